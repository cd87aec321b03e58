// A schedule on Dramatiq over RabbitMQ, end to end (helpers/schedules.ts): z4j publishes the
// message to the queue its worker declared, and the worker runs it; the worker's agent publishes
// its events to a RabbitMQ queue of this file's own.
import { queueDeclared } from './helpers/amqp.js';
import { DRAMATIQ_AMQP_URL } from './helpers/dramatiq.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules } from './helpers/schedules.js';

const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_DRAMATIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/20';
const queue = uniqueQueue('sched_dqr');
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_BROKER: DRAMATIQ_AMQP_URL, Z4J_TEST_QUEUE: queue });

describeSchedules({
  label: 'Dramatiq (RabbitMQ)',
  engine: 'dramatiq',
  settings: { Z4J_DRAMATIQ_BROKER_URL: DRAMATIQ_AMQP_URL },
  agent: { amqp: DRAMATIQ_AMQP_URL, queue: 'z4j.events.test.schedules-dramatiq' },
  taskName: 'echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], env),
  ready: () => queueDeclared(DRAMATIQ_AMQP_URL, queue),
});
