// The agent's Dramatiq middleware in the other ways a worker runs than one process of threads
// (agent.engines.dramatiq-redis): several worker processes (forked by Dramatiq's CLI, each with
// its own agent, command channel and heartbeats), and greenlets (`dramatiq-gevent`, gevent's
// monkey-patch applied by the CLI): lifecycles, retries, dead letters, pipelines, groups and the
// workers' goodbye, stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

// Its own database: services reading one database's agent streams share their entries (consumer group z4j).
const REDIS_URL = process.env.Z4J_TEST_AGENT_DRAMATIQ_WORKERS_REDIS_URL ?? 'redis://127.0.0.1:6379/29';

for (const [label, bin] of [['2 processes', 'dramatiq'], ['gevent', 'dramatiq-gevent']] as const) {
  const queue = uniqueQueue('agent_dq_workers');
  const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: queue });
  describeAgentEngine(`dramatiq-redis (${label})`, {
    engine: 'dramatiq',
    transport: { redis: REDIS_URL },
    groups: true,
    startWorker: (env) => app.start(bin, ['tasks', '--processes', bin === 'dramatiq' ? '2' : '1', '--threads', '4', '--queues', queue], env),
    timeLimits: true,
    send: (env) => app.run<Sent>('agentctl.py', [], env),
  });
}
