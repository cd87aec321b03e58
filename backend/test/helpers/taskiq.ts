// Real taskiq for integration tests: tests/engines/taskiq_app (taskiq-redis ListQueueBroker, or
// taskiq-aio-pika) with workers and taskiqctl.py.
import { PythonApp, type PyProcess } from './pyapp.js';

export const TASKIQ_REDIS_URL = process.env.Z4J_TEST_TASKIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/12';
/** The RabbitMQ of the taskiq-aio-pika tests. */
export const TASKIQ_AMQP_URL = process.env.Z4J_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: TASKIQ_REDIS_URL });

export const startTaskiqWorker = (queue: string, env: Record<string, string> = {}): PyProcess => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], { Z4J_TEST_QUEUE: queue, ...env });
export const taskiqctl = <T>(queue: string, ...args: string[]) => app.run<T>('taskiqctl.py', args, { Z4J_TEST_QUEUE: queue });
/** The serializers taskiq ships besides its default JSON, as the test app's Z4J_TEST_SERIALIZER names them. */
export const SERIALIZERS = [
  { name: 'PickleSerializer', env: { Z4J_TEST_SERIALIZER: 'pickle' }, firstByte: 0x80 }, // PROTO
  { name: 'MSGPackSerializer', env: { Z4J_TEST_SERIALIZER: 'msgpack' }, firstByte: 0x86 }, // a map of 6
  { name: 'CBORSerializer', env: { Z4J_TEST_SERIALIZER: 'cbor' }, firstByte: 0xd9 }, // tag 256: string references
] as const;
export const PICKLE = SERIALIZERS[0].env;
/** taskiqctl with a broker that writes with another serializer (one of SERIALIZERS' env). */
export const taskiqctlWith = (env: Record<string, string>) => <T>(queue: string, ...args: string[]) => app.run<T>('taskiqctl.py', args, { Z4J_TEST_QUEUE: queue, ...env });
