// A schedule on taskiq over Redis whose broker writes messages with PickleSerializer: z4j pushes
// its message as JSON, which such a worker cannot parse; the worker's agent gives it to taskiq as
// the broker writes messages (agent: taskiq._in_broker_format), and the call arrives exact.
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';
import { PICKLE } from './helpers/taskiq.js';

// A Redis DB of its own: the service takes every agent stream in it.
const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_TASKIQ_PICKLE_REDIS_URL ?? 'redis://127.0.0.1:6379/25';
const queue = uniqueQueue('sched_tq_pickle');
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue, ...PICKLE });

describeSchedules({
  label: 'taskiq (Redis, PickleSerializer)',
  engine: 'taskiq',
  settings: { Z4J_TASKIQ_BROKER_URL: REDIS_URL },
  agent: { redis: REDIS_URL },
  taskName: 'echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], env),
});
