// A schedule on Huey, end to end (helpers/schedules.ts): Huey's messages are pickles, so each run
// goes through the agent command channel, and the agent in the consumer enqueues the task with
// the exact call; the consumer runs it.
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';

// A Redis DB of its own: the service takes every agent stream in it.
const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_HUEY_REDIS_URL ?? 'redis://127.0.0.1:6379/23';
const queue = uniqueQueue('sched_huey');
const app = new PythonApp('huey', 'huey_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });

describeSchedules({
  label: 'Huey',
  engine: 'huey',
  settings: { Z4J_HUEY_REDIS_URL: REDIS_URL },
  agent: { redis: REDIS_URL },
  taskName: 'tasks.echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('huey_consumer', ['tasks.huey', '-w', '1', '-d', '0.1'], env),
});
