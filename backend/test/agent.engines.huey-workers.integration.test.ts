// The agent in a real Huey consumer of the other worker types than threads (agent.engines.huey):
// process workers (forked children, whose events leave before they exit) and greenlet workers
// (gevent-patched, the agent's sender a greenlet too): lifecycles, retries, pipelines, chords,
// heartbeats and the goodbye, stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, packageAtLeast, uniqueQueue } from './helpers/pyapp.js';

// Its own database: services reading one database's agent streams share their entries (consumer group z4j).
const REDIS_URL = process.env.Z4J_TEST_AGENT_HUEY_WORKERS_REDIS_URL ?? 'redis://127.0.0.1:6379/30';

// A task's timeout: Huey 3, in process and greenlet workers (thread workers run a task to its end).
const timeLimits = packageAtLeast('huey', 'huey', [3]);

for (const kind of ['process', 'greenlet'] as const) {
  const app = new PythonApp('huey', 'huey_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: uniqueQueue(`agent_huey_${kind}`) });
  // Greenlet workers need gevent's monkey-patch before Huey loads (green_consumer.py), as Huey's docs say.
  const consumer: [string, string[]] = kind === 'greenlet' ? ['python', ['green_consumer.py']] : ['huey_consumer', []];
  describeAgentEngine(`huey (${kind} workers)`, {
    engine: 'huey',
    transport: { redis: REDIS_URL },
    groups: true,
    startWorker: (env) => app.start(consumer[0], [...consumer[1], 'tasks.huey', '-w', '2', '-k', kind, '-d', '0.1'], env),
    timeLimits,
    send: (env) => app.run<Sent>('agentctl.py', timeLimits ? ['--time-limited'] : [], env),
  });
}
