// What the service reads of a taskiq message waiting in a Redis list: its task id and name,
// never its call. taskiq writes a message (the dict of a TaskiqMessage, task_id and task_name
// first) with its broker's serializer: JSON by default (or orjson), msgpack or CBOR
// (serializedMap.ts), or a pickle (PickleSerializer), read without unpickling it (pickleStrings).
// Anything else (the user's own serializer) cannot be read here: null, and the caller says what
// that leaves it unable to do.
import { pickleStrings } from '../pickleStrings.js';
import { readSerializedMap } from '../serializedMap.js';

export interface WaitingTaskiqMessage {
  taskId: string;
  taskName: string;
}

const PICKLE_PROTO = 0x80;

export function readTaskiqMessage(raw: Buffer): WaitingTaskiqMessage | null {
  if (raw[0] === PICKLE_PROTO) {
    const [idKey, taskId, nameKey, taskName] = pickleStrings(raw, 4);
    return idKey === 'task_id' && nameKey === 'task_name' && taskId !== undefined && taskName !== undefined ? { taskId, taskName } : null;
  }
  const m = readSerializedMap(raw);
  return typeof m?.task_id === 'string' && typeof m.task_name === 'string' ? { taskId: m.task_id, taskName: m.task_name } : null;
}
