// Dramatiq terminate through the agent command channel, with a real worker on Redis (one
// process, one thread): the agent raises an Interrupt in the thread running the message.
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { DRAMATIQ_REDIS_URL } from './helpers/dramatiq.js';
import { PythonApp } from './helpers/pyapp.js';
import { sleep } from './helpers/wait.js';

const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL });
const get = (queue: string, key: string) => app.run<string | null>('dqctl.py', ['get', key], { Z4J_TEST_QUEUE: queue });

describeAgentActions({
  engine: 'dramatiq',
  redisUrl: DRAMATIQ_REDIS_URL,
  driver: { Z4J_DRAMATIQ_REDIS_URL: DRAMATIQ_REDIS_URL },
  startWorker: (queue, env) => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], { ...env, Z4J_TEST_QUEUE: queue }),
  send: (queue, name, args, kwargs, env) => {
    if (Object.keys(kwargs).length) throw new Error('dqctl sends positional arguments only');
    return app.run<string>('dqctl.py', ['send', name, JSON.stringify(args)], { ...env, Z4J_TEST_QUEUE: queue });
  },
  get,
  terminate: () => covers('dramatiq', 'task.terminate'),
  // `long` allows 3 retries: Retries must not have re-sent the terminated message.
  notRetried: async (queue, key) => {
    await sleep(1000);
    expect(await get(queue, `z4j-test-long-runs:${key}`)).toBe('1');
  },
});
