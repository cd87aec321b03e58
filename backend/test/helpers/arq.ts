// Real arq for integration tests: tests/engines/arq_app with workers and arqctl.py.
import { PythonApp, type PyProcess } from './pyapp.js';

export const ARQ_REDIS_URL = process.env.Z4J_TEST_ARQ_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
const app = new PythonApp('arq', 'arq_app', { Z4J_TEST_REDIS: ARQ_REDIS_URL });

export const startArqWorker = (queue: string): PyProcess => app.start('arq', ['tasks.WorkerSettings'], { Z4J_TEST_QUEUE: queue });
export const arqctl = <T>(queue: string, ...args: string[]) => app.run<T>('arqctl.py', args, { Z4J_TEST_QUEUE: queue });
