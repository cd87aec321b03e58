// Builders of valid envelopes for tests.
import type { TaskEnvelope, TaskKind, WorkerEnvelope } from '../../src/ingest/envelope.js';

let n = 0;
export const T0 = Date.now() - 60_000;

export function taskEvent(taskId: string, kind: TaskKind, atMs: number, fields: TaskEnvelope['fields'] = {}, extra: Partial<TaskEnvelope> = {}): TaskEnvelope {
  return { v: 1, type: 'task', id: `ev-${taskId}-${kind}-${atMs}-${++n}`, engine: 'celery', project: 'default', kind, taskId, occurredAt: T0 + atMs, worker: 'w1@host', fields, ...extra };
}

export function workerEvent(worker: string, kind: WorkerEnvelope['kind'], atMs: number, fields: WorkerEnvelope['fields'] = {}): WorkerEnvelope {
  return { v: 1, type: 'worker', id: `wev-${worker}-${++n}`, engine: 'celery', project: 'default', kind, worker, occurredAt: T0 + atMs, fields };
}
