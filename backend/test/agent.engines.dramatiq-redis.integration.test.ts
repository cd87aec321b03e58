// The agent's Dramatiq middleware in a real worker and producer on redis: lifecycles, retries,
// dead letters, pipelines and groups stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_DRAMATIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/2';
const queue = uniqueQueue('agent_dq');
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue, ...{} });

describeAgentEngine('dramatiq-redis', {
  engine: 'dramatiq',
  transport: { redis: REDIS_URL },
  groups: true,
  startWorker: (env) => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '2', '--queues', queue], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
