// The agent's taskiq middleware in a real worker and producer on rabbitmq: lifecycles, the retry
// middleware's retries, tasks sent by tasks, labels, stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_TASKIQ_AMQP_REDIS_URL ?? 'redis://127.0.0.1:6379/6';
const AMQP_URL = process.env.Z4J_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: uniqueQueue('agent_taskiq'), Z4J_TEST_BROKER: AMQP_URL });

describeAgentEngine('taskiq-rabbitmq', {
  engine: 'taskiq',
  transport: { amqp: AMQP_URL, queue: 'z4j.events.test.taskiq' },
  startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
