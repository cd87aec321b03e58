// The agent's taskiq middleware in a real worker and producer on redis: lifecycles, the retry
// middleware's retries, tasks sent by tasks, labels, stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_TASKIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/5';
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: uniqueQueue('agent_taskiq') });

describeAgentEngine('taskiq-redis', {
  engine: 'taskiq',
  transport: { redis: REDIS_URL },
  startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
