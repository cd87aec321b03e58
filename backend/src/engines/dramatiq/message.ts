// Dramatiq's message as its brokers carry it (dramatiq.Message.encode: JSON).
import type { RetryPayload } from '../driver.js';

/** A new message for a retry, as `Actor.send` builds it; it runs now (no eta). */
export function dramatiqMessage(payload: RetryPayload, messageId: string, queue: string, extraOptions: Record<string, unknown> = {}): Record<string, unknown> {
  const options: Record<string, unknown> = { ...(payload.options ?? {}), ...extraOptions };
  delete options.eta;
  return { queue_name: queue, actor_name: payload.name, args: payload.args, kwargs: payload.kwargs, options, message_id: messageId, message_timestamp: Date.now() };
}

/** A dead letter put back on its queue by z4j: the message to send, its task and the attempt it opens. */
export interface Requeued {
  message: Buffer;
  taskId: string;
  /** Dramatiq's `retries` plus the requeues so far, this one included: what the agent reports it as. */
  attempt: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (b: number | undefined) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * A dead letter with `options.z4j_requeues` one more than it was (1 when absent), so that the
 * z4j agent in the worker reports its rerun as a new attempt (a copy sent as it was would repeat
 * the attempt that already ended, and the task would stay failed). The option is written into
 * the message's text, which is otherwise kept byte for byte: parsing and encoding it again would
 * lose integers past 2^53 in its arguments. Null for a message that is not Dramatiq's JSON (another
 * encoder): it goes back as it was.
 */
export function countRequeue(data: Buffer): Requeued | null {
  let message: { message_id?: unknown; options?: { retries?: unknown; z4j_requeues?: unknown } };
  try {
    message = JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
  const options = message?.options;
  if (typeof message?.message_id !== 'string' || typeof options !== 'object' || options === null || Array.isArray(options)) return null;
  const where = optionsInText(data);
  if (!where) return null;
  const requeues = (Number.isSafeInteger(options.z4j_requeues) ? Number(options.z4j_requeues) : 0) + 1;
  const text = where.requeues
    ? Buffer.concat([data.subarray(0, where.requeues.start), Buffer.from(String(requeues)), data.subarray(where.requeues.end)])
    : Buffer.concat([data.subarray(0, where.open + 1), Buffer.from(`"z4j_requeues":${requeues}${where.empty ? '' : ','}`), data.subarray(where.open + 1)]);
  try {
    JSON.parse(text.toString('utf8')); // the edit kept it JSON, or the letter goes back as it was
  } catch {
    return null;
  }
  const retries = Number.isSafeInteger(options.retries) ? Number(options.retries) : 0;
  return { message: text, taskId: message.message_id, attempt: retries + requeues };
}

/**
 * Where the top-level `options` object opens in a message's JSON text, whether it is empty, and
 * the span of its `z4j_requeues` value if it has one. A scan of the text's structure (strings,
 * nesting), so a key of the same name inside the arguments is never taken for it.
 */
function optionsInText(data: Buffer): { open: number; empty: boolean; requeues: { start: number; end: number } | null } | null {
  let depth = 0;
  let expectKey = false;
  let key: string | null = null; // the last key read at depth 1 or, inside options, 2
  let open = -1; // the options object's '{'
  let requeues: { start: number; end: number } | null = null;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === QUOTE) {
      const start = i + 1;
      for (i = start; i < data.length && data[i] !== QUOTE; i++) if (data[i] === BACKSLASH) i++;
      const inOptions = open >= 0 && depth === 2;
      if (expectKey && (depth === 1 || inOptions)) key = data.toString('latin1', start, i);
      expectKey = false;
      continue;
    }
    if (b === 0x7b || b === 0x5b) { // { [
      depth++;
      if (b === 0x7b && depth === 2 && open < 0 && key === 'options') open = i;
      expectKey = b === 0x7b;
    } else if (b === 0x7d || b === 0x5d) { // } ]
      if (open >= 0 && depth === 2) {
        let k = open + 1;
        while (isSpace(data[k])) k++;
        return { open, empty: data[k] === 0x7d, requeues };
      }
      depth--;
    } else if (b === 0x2c) { // ,
      expectKey = depth === 1 || (open >= 0 && depth === 2);
    } else if (b === 0x3a && open >= 0 && depth === 2 && key === 'z4j_requeues') { // :
      let start = i + 1;
      while (isSpace(data[start])) start++;
      let end = start;
      while (end < data.length && /[0-9.eE+-]/.test(String.fromCharCode(data[end]!))) end++;
      requeues = { start, end };
    }
  }
  return null;
}
