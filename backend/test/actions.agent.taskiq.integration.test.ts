// taskiq terminate through the agent command channel, with a real worker (taskiq-redis
// ListQueueBroker): the agent cancels the asyncio task running an async task function; a sync
// function in taskiq's thread pool cannot be stopped, and the command says so.
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { PythonApp } from './helpers/pyapp.js';
import { TASKIQ_REDIS_URL } from './helpers/taskiq.js';

const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: TASKIQ_REDIS_URL });

describeAgentActions({
  engine: 'taskiq',
  redisUrl: TASKIQ_REDIS_URL,
  driver: { Z4J_TASKIQ_REDIS_URL: TASKIQ_REDIS_URL },
  startWorker: (queue, env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], { ...env, Z4J_TEST_QUEUE: queue }),
  send: (queue, name, args, kwargs, env) => app.run<string>('taskiqctl.py', ['send', name, JSON.stringify(args), JSON.stringify(kwargs)], { ...env, Z4J_TEST_QUEUE: queue }),
  get: (queue, key) => app.run<string | null>('taskiqctl.py', ['get', key], { Z4J_TEST_QUEUE: queue }),
  terminate: () => covers('taskiq', 'task.terminate'),
  unstoppable: { task: 'long_sync', message: /thread pool/ },
});
