// Real RQ for integration tests: tests/engines/rq_app with workers and rqctl.py.
import { randomBytes } from 'node:crypto';
import { PythonApp, type PyProcess } from './pyapp.js';

export { uniqueQueue } from './pyapp.js';

export const RQ_REDIS_URL = process.env.Z4J_TEST_RQ_REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const app = new PythonApp('rq', 'rq_app', { Z4J_TEST_REDIS: RQ_REDIS_URL });

export type RqWorker = PyProcess & { name: string };

export function startRqWorker(queues: string[]): RqWorker {
  const name = `rq-${randomBytes(3).toString('hex')}`;
  return { name, ...app.start('rq', ['worker', '-u', RQ_REDIS_URL, '--name', name, '--with-scheduler', ...queues]) };
}

export const rqctl = <T>(...args: string[]) => app.run<T>('rqctl.py', args);
export const enqueue = (queue: string, func: string, args: unknown[]) => rqctl<string>('enqueue', queue, func, JSON.stringify(args));
/** Enqueued under RQ 3's RateLimit(limit, concurrency). */
export const enqueueLimited = (queue: string, func: string, args: unknown[], limit: string, concurrency: number) =>
  rqctl<string>('enqueue-limited', queue, func, JSON.stringify(args), limit, String(concurrency));
export const jobOf = (id: string) => rqctl<{ status: string; result: unknown; worker: string | null } | null>('job', id);
