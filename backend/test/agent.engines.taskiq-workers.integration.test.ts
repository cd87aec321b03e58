// The agent's taskiq middleware in a worker of several processes (`taskiq worker --workers 2`:
// a process manager starting two worker processes, each with its own agent) on redis, rather than
// one (agent.engines.taskiq-redis): lifecycles, retries, tasks sent by tasks, labels and the
// workers' goodbye, stored by the service.
import { describeAgentEngine, type Sent } from './helpers/agentEngine.js';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';

// Its own database: services reading one database's agent streams share their entries (consumer group z4j).
const REDIS_URL = process.env.Z4J_TEST_AGENT_TASKIQ_WORKERS_REDIS_URL ?? 'redis://127.0.0.1:6379/31';
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: REDIS_URL, Z4J_TEST_QUEUE: uniqueQueue('agent_taskiq_workers') });

describeAgentEngine('taskiq-redis (2 worker processes)', {
  engine: 'taskiq',
  transport: { redis: REDIS_URL },
  startWorker: (env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '2'], env),
  timeLimits: true,
  send: (env) => app.run<Sent>('agentctl.py', [], env),
});
