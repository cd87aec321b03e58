// A schedule on Dramatiq over Redis, end to end (helpers/schedules.ts): z4j enqueues the
// message itself, as the broker's own enqueue does, and a real worker runs it; the worker's agent
// reports the run of the task z4j sent.
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';

// A Redis DB of its own: the service takes every agent stream in it.
const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_DRAMATIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/20';
const queue = uniqueQueue('sched_dq');
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });

describeSchedules({
  label: 'Dramatiq (Redis)',
  engine: 'dramatiq',
  settings: { Z4J_DRAMATIQ_BROKER_URL: REDIS_URL },
  agent: { redis: REDIS_URL },
  taskName: 'echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], env),
});
