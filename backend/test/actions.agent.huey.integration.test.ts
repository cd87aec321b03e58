// Huey actions through the agent command channel, with a real consumer (one thread worker):
// retry (Huey messages are pickles: the agent enqueues the new task) and terminate. A schedule's
// runs, sent as a retry is: schedules.huey.integration.test.ts.
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { HUEY_REDIS_URL } from './helpers/huey.js';
import { PythonApp } from './helpers/pyapp.js';

const app = new PythonApp('huey', 'huey_app', { Z4J_TEST_REDIS: HUEY_REDIS_URL });

describeAgentActions({
  engine: 'huey',
  redisUrl: HUEY_REDIS_URL,
  driver: { Z4J_HUEY_REDIS_URL: HUEY_REDIS_URL },
  startWorker: (queue, env) => app.start('huey_consumer', ['tasks.huey', '-w', '1', '-d', '0.1'], { ...env, Z4J_TEST_QUEUE: queue }),
  send: (queue, name, args, kwargs, env) => app.run<string>('hueyctl.py', ['send', name, JSON.stringify(args), JSON.stringify(kwargs)], { ...env, Z4J_TEST_QUEUE: queue }),
  get: (queue, key) => app.run<string | null>('hueyctl.py', ['get', key], { Z4J_TEST_QUEUE: queue }),
  retry: () => covers('huey', 'task.retry'),
  terminate: () => covers('huey', 'task.terminate'),
});
