// Real Huey for integration tests: tests/engines/huey_app with consumers and hueyctl.py.
import { PythonApp, type PyProcess } from './pyapp.js';

export const HUEY_REDIS_URL = process.env.Z4J_TEST_HUEY_REDIS_URL ?? 'redis://127.0.0.1:6379/13';
const app = new PythonApp('huey', 'huey_app', { Z4J_TEST_REDIS: HUEY_REDIS_URL });

/** Which of Huey's Redis storages the app uses: RedisHuey, PriorityRedisHuey, RedisExpireHuey. */
export type HueyStorage = 'redis' | 'priority' | 'expire';
const env = (queue: string, storage: HueyStorage) => ({ Z4J_TEST_QUEUE: queue, Z4J_TEST_HUEY_STORAGE: storage });

export const startHueyConsumer = (queue: string, storage: HueyStorage = 'redis'): PyProcess =>
  app.start('huey_consumer', ['tasks.huey', '-w', '1', '-d', '0.1'], env(queue, storage));
export const hueyctlWith = <T>(storage: HueyStorage, queue: string, ...args: string[]) => app.run<T>('hueyctl.py', args, env(queue, storage));
export const hueyctl = <T>(queue: string, ...args: string[]) => hueyctlWith<T>('redis', queue, ...args);
