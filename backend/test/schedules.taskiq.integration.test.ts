// A schedule on taskiq over Redis (taskiq-redis ListQueueBroker), end to end
// (helpers/schedules.ts): z4j pushes taskiq's message on the list, a real worker runs it; the
// worker's agent reports the run of the task z4j sent.
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';

// A Redis DB of its own: the service takes every agent stream in it.
const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_TASKIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/22';
const queue = uniqueQueue('sched_tq');
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });

describeSchedules({
  label: 'taskiq (Redis)',
  engine: 'taskiq',
  settings: { Z4J_TASKIQ_BROKER_URL: REDIS_URL },
  agent: { redis: REDIS_URL },
  taskName: 'echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], env),
});
