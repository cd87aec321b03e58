// arq retry through the agent command channel, with a real worker: arq pickles its jobs, so the
// agent in the worker enqueues the new job with the exact call.
import { describeAgentActions } from './helpers/agentActions.js';
import { ARQ_REDIS_URL } from './helpers/arq.js';
import { covers } from './helpers/coverage.js';
import { PythonApp } from './helpers/pyapp.js';

const app = new PythonApp('arq', 'arq_app', { Z4J_TEST_REDIS: ARQ_REDIS_URL });

describeAgentActions({
  engine: 'arq',
  redisUrl: ARQ_REDIS_URL,
  driver: { Z4J_ARQ_REDIS_URL: ARQ_REDIS_URL },
  startWorker: (queue, env) => app.start('arq', ['tasks.WorkerSettings'], { ...env, Z4J_TEST_QUEUE: queue }),
  send: (queue, name, args, kwargs, env) => app.run<string>('arqctl.py', ['send', name, JSON.stringify(args), JSON.stringify(kwargs)], { ...env, Z4J_TEST_QUEUE: queue }),
  get: (queue, key) => app.run<string | null>('arqctl.py', ['get', key], { Z4J_TEST_QUEUE: queue }),
  retry: () => covers('arq', 'task.retry'),
});
