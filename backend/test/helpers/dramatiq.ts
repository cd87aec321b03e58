// Real Dramatiq for integration tests: tests/engines/dramatiq_app with workers and dqctl.py.
import { PythonApp, type PyProcess } from './pyapp.js';

export const DRAMATIQ_REDIS_URL = process.env.Z4J_TEST_DRAMATIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL });

export type DramatiqWorker = PyProcess;

export const startDramatiqWorker = (queue: string): DramatiqWorker =>
  app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], { Z4J_TEST_QUEUE: queue });

export const dqctl = <T>(queue: string, ...args: string[]) => app.run<T>('dqctl.py', args, { Z4J_TEST_QUEUE: queue });
