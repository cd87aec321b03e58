// Celery task messages in protocol 2 (Celery ≥ 4), as `apply_async` builds them: the task's
// identity and routing in headers, `[args, kwargs, embed]` as the JSON body.
import { scrub } from '../../redact/redact.js';
import type { RetryPayload } from '../driver.js';

export interface CeleryTaskMessage {
  headers: Record<string, unknown>;
  body: [unknown[], Record<string, unknown>, Record<string, unknown>];
  correlationId: string;
  priority: number;
}

/** Python-ish repr for Celery's argsrepr / kwargsrepr (shown by Celery's own tools, so redacted). */
function repr(value: unknown): string {
  return JSON.stringify(scrub(value)).slice(0, 1024);
}

export function celeryTaskMessage(payload: RetryPayload, taskId: string, origin: string): CeleryTaskMessage {
  const options = payload.options ?? {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
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
    body: [payload.args, payload.kwargs, { callbacks: null, errbacks: null, chain: null, chord: null }],
    correlationId: taskId,
    priority: num(options.priority) ?? 0,
  };
}
