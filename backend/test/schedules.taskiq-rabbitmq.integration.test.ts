// A schedule on taskiq over RabbitMQ (taskiq-aio-pika), end to end (helpers/schedules.ts): z4j
// publishes taskiq's message to the queue its worker declared, and the worker runs it; the
// worker's agent publishes its events to a RabbitMQ queue of this file's own.
import { queueDeclared } from './helpers/amqp.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';
import { TASKIQ_AMQP_URL } from './helpers/taskiq.js';

const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_TASKIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/22';
const queue = uniqueQueue('sched_tqr');
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_BROKER: TASKIQ_AMQP_URL, Z4J_TEST_QUEUE: queue });

describeSchedules({
  label: 'taskiq (RabbitMQ)',
  engine: 'taskiq',
  settings: { Z4J_TASKIQ_BROKER_URL: TASKIQ_AMQP_URL },
  agent: { amqp: TASKIQ_AMQP_URL, queue: 'z4j.events.test.schedules-taskiq' },
  taskName: 'echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], env),
  ready: () => queueDeclared(TASKIQ_AMQP_URL, queue),
});
