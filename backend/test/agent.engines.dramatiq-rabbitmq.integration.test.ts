// The agent's Dramatiq middleware in a real worker and producer on rabbitmq: lifecycles, retries,
// dead letters, pipelines and groups stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_DRAMATIQ_AMQP_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const AMQP_URL = process.env.Z4J_TEST_AMQP_URL_PIKA ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
const queue = uniqueQueue('agent_dq');
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue, ...{ Z4J_TEST_BROKER: AMQP_URL } });

describeAgentEngine('dramatiq-rabbitmq', {
  engine: 'dramatiq',
  transport: { amqp: AMQP_URL, queue: 'z4j.events.test.dramatiq' },
  groups: true,
  startWorker: (env) => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '2', '--queues', queue], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
