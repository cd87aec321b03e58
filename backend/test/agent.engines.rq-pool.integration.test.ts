// The agent in a real RQ worker pool (`rq worker-pool -n 2 -w z4j_agent.rq.Z4jWorker`: a pool
// process that starts and watches two workers, each forking a work horse per job) and producer:
// lifecycles, retries, dependencies and workers stored by the service, as with one `rq worker`
// (agent.engines.rq).
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

// Its own database: services reading one database's agent streams share their entries (consumer group z4j).
const REDIS_URL = process.env.Z4J_TEST_AGENT_RQ_POOL_REDIS_URL ?? 'redis://127.0.0.1:6379/28';
const queue = uniqueQueue('agent_rq_pool');
const app = new PythonApp('rq', 'rq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });

describeAgentEngine('rq (worker-pool)', {
  engine: 'rq',
  transport: { redis: REDIS_URL },
  startWorker: (env) => app.start('rq', ['worker-pool', '-u', REDIS_URL, '-n', '2', '-w', 'z4j_agent.rq.Z4jWorker', queue], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
