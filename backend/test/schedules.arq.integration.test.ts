// A schedule on arq, end to end (helpers/schedules.ts): arq pickles its jobs, so each run goes
// through the agent command channel, and the agent in the worker enqueues the job with the exact
// call; the worker runs it.
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';

// A Redis DB of its own: the service takes every agent stream in it.
const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_ARQ_REDIS_URL ?? 'redis://127.0.0.1:6379/21';
const queue = uniqueQueue('sched_arq');
const app = new PythonApp('arq', 'arq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });

describeSchedules({
  label: 'arq',
  engine: 'arq',
  settings: { Z4J_ARQ_REDIS_URL: REDIS_URL },
  agent: { redis: REDIS_URL },
  taskName: 'echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('arq', ['tasks.WorkerSettings'], env),
});
