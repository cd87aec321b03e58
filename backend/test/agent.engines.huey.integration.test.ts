// The agent in a real Huey consumer (thread workers) and producer: lifecycles, retries and
// pipelines and chords stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

const REDIS_URL = process.env.Z4J_TEST_AGENT_HUEY_REDIS_URL ?? 'redis://127.0.0.1:6379/3';
const app = new PythonApp('huey', 'huey_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: uniqueQueue('agent_huey') });

describeAgentEngine('huey', {
  engine: 'huey',
  transport: { redis: REDIS_URL },
  groups: true, // Huey 3's chords: members share the chord's id
  startWorker: (env) => app.start('huey_consumer', ['tasks.huey', '-w', '2', '-d', '0.1'], env),
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
