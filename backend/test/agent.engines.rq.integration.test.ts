// The agent in a real RQ worker (`rq worker -w z4j_agent.rq.Z4jWorker`, a work horse forked per
// job) and producer: lifecycles, retries, dependencies and workers stored by the service.
import { randomBytes } from 'node:crypto';
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_RQ_REDIS_URL ?? 'redis://127.0.0.1:6379/1';
const queue = uniqueQueue('agent_rq');
const name = `rq-agent-${randomBytes(3).toString('hex')}`;
const app = new PythonApp('rq', 'rq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });

describeAgentEngine('rq', {
  engine: 'rq',
  transport: { redis: REDIS_URL },
  workerName: name,
  startWorker: (env) => app.start('rq', ['worker', '-u', REDIS_URL, '--name', name, '-w', 'z4j_agent.rq.Z4jWorker', queue], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
