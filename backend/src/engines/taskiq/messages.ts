// What the service reads of a taskiq message waiting in a Redis list: its task id and name,
// never its call. taskiq writes a message with its broker's serializer. JSON (taskiq's default,
// and orjson) is parsed. A pickle (PickleSerializer) is read without unpickling it
// (pickleStrings): taskiq pickles the dict of its message, whose first keys are task_id and
// task_name, each followed by its value. Anything else (msgpack, CBOR, the user's own) cannot be
// read here: null, and the caller says what that leaves it unable to do.
import { pickleStrings } from '../pickleStrings.js';

export interface WaitingTaskiqMessage {
  taskId: string;
  taskName: string;
}

const PICKLE_PROTO = 0x80;
const JSON_OBJECT = 0x7b; // "{"

export function readTaskiqMessage(raw: Buffer): WaitingTaskiqMessage | null {
  if (raw[0] === JSON_OBJECT) return fromJson(raw);
  if (raw[0] === PICKLE_PROTO) {
    const [idKey, taskId, nameKey, taskName] = pickleStrings(raw, 4);
    return idKey === 'task_id' && nameKey === 'task_name' && taskId !== undefined && taskName !== undefined ? { taskId, taskName } : null;
  }
  return null;
}

function fromJson(raw: Buffer): WaitingTaskiqMessage | null {
  try {
    const m = JSON.parse(raw.toString('utf8')) as { task_id?: unknown; task_name?: unknown } | null;
    return typeof m?.task_id === 'string' && typeof m.task_name === 'string' ? { taskId: m.task_id, taskName: m.task_name } : null;
  } catch {
    return null;
  }
}
