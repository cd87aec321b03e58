// The agent in a real arq worker (`instrument(WorkerSettings)`) and producer: lifecycles, arq's
// Retry, and jobs enqueued by jobs stored by the service with their links.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_ARQ_REDIS_URL ?? 'redis://127.0.0.1:6379/4';
const app = new PythonApp('arq', 'arq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: uniqueQueue('agent_arq') });

describeAgentEngine('arq', {
  engine: 'arq',
  transport: { redis: REDIS_URL },
  startWorker: (env) => app.start('arq', ['tasks.WorkerSettings'], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
