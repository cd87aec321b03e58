// A schedule on taskiq over Redis (taskiq-redis ListQueueBroker), end to end
// (helpers/schedules.ts): z4j pushes taskiq's message on the list, a real worker runs it; the
// worker's agent reports the run of the task z4j sent. With taskiq's default JSON serializer, and
// with PickleSerializer, whose worker cannot parse the JSON z4j writes: its agent gives the
// message to taskiq as the broker writes messages (agent: taskiq._in_broker_format), and the
// call still arrives exact.
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';
import { PICKLE } from './helpers/taskiq.js';

// Each a Redis DB of its own: the service takes every agent stream in it.
const BROKERS = [
  { label: 'taskiq (Redis)', queue: 'sched_tq', redis: process.env.Z4J_TEST_SCHEDULES_TASKIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/22', env: {} },
  { label: 'taskiq (Redis, PickleSerializer)', queue: 'sched_tq_pickle', redis: process.env.Z4J_TEST_SCHEDULES_TASKIQ_PICKLE_REDIS_URL ?? 'redis://127.0.0.1:6379/25', env: PICKLE },
];

for (const broker of BROKERS) {
  const queue = uniqueQueue(broker.queue);
  const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: broker.redis, Z4J_TEST_QUEUE: queue, ...broker.env });
  describeSchedules({
    label: broker.label,
    engine: 'taskiq',
    settings: { Z4J_TASKIQ_BROKER_URL: broker.redis },
    agent: { redis: broker.redis },
    taskName: 'echo',
    queue,
    echoRedis: broker.redis,
    startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], env),
  });
}
