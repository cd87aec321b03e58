// Celery task messages in protocol 2 (Celery ≥ 4), as `apply_async` builds them: the task's
// identity and routing in headers, `[args, kwargs, embed]` as the body, in the serializer the
// original was sent with (json unless the agent recorded another): a worker that accepts only
// pickle or msgpack (its `accept_content`) drops a json message without running it.
import { encode as msgpack } from '@msgpack/msgpack';
import { scrub } from '../../redact/redact.js';
import type { RetryPayload } from '../driver.js';
import { pickleTuple } from '../rq/pickle.js';

type Body = [unknown[], Record<string, unknown>, Record<string, unknown>];

export interface CeleryTaskMessage {
  headers: Record<string, unknown>;
  body: Body;
  /** The body as kombu carries it: its bytes, content type and encoding. */
  content: { bytes: Buffer; type: string; encoding: string };
  correlationId: string;
  priority: number;
}

/** kombu's serializers z4j can write (kombu/serialization.py registers them under these names). */
const SERIALIZERS: Record<string, { type: string; encoding: string; encode: (body: Body) => Buffer }> = {
  json: { type: 'application/json', encoding: 'utf-8', encode: (body) => Buffer.from(JSON.stringify(body)) },
  pickle: { type: 'application/x-python-serialize', encoding: 'binary', encode: (body) => pickleTuple(body) },
  msgpack: { type: 'application/x-msgpack', encoding: 'binary', encode: (body) => Buffer.from(msgpack(body)) },
};

function serializerOf(payload: RetryPayload): (typeof SERIALIZERS)[string] | undefined {
  const name = payload.options?.serializer ?? 'json';
  return typeof name === 'string' && Object.hasOwn(SERIALIZERS, name) ? SERIALIZERS[name] : undefined;
}

/** Why z4j cannot send a task of this payload's serializer, or null when it can. */
export function unsupportedSerializer(payload: RetryPayload): string | null {
  if (serializerOf(payload)) return null;
  return `this task was sent with the ${JSON.stringify(payload.options?.serializer)} serializer, which z4j cannot write (it writes ${Object.keys(SERIALIZERS).join(', ')}): send it again from the app`;
}

/** Python-ish repr for Celery's argsrepr / kwargsrepr (shown by Celery's own tools, so redacted). */
function repr(value: unknown): string {
  return JSON.stringify(scrub(value)).slice(0, 1024);
}

export function celeryTaskMessage(payload: RetryPayload, taskId: string, origin: string): CeleryTaskMessage {
  const options = payload.options ?? {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const serializer = serializerOf(payload);
  if (!serializer) throw new Error(unsupportedSerializer(payload)!);
  const body: Body = [payload.args, payload.kwargs, { callbacks: null, errbacks: null, chain: null, chord: null }];
  return {
    headers: {
      lang: 'py',
      task: payload.name,
      id: taskId,
      shadow: null,
      eta: null,
      expires: null,
      group: null,
      group_index: null,
      retries: 0,
      timelimit: [num(options.time_limit), num(options.soft_time_limit)],
      // A retry from z4j starts a workflow of its own; the link to the original is kept by z4j.
      root_id: taskId,
      parent_id: null,
      argsrepr: repr(payload.args),
      kwargsrepr: repr(payload.kwargs),
      origin,
      ignore_result: options.ignore_result === true,
      replaced_task_nesting: 0,
      stamped_headers: null,
      stamps: {},
    },
    body,
    content: { bytes: serializer.encode(body), type: serializer.type, encoding: serializer.encoding },
    correlationId: taskId,
    priority: num(options.priority) ?? 0,
  };
}
