// Dramatiq terminate through the agent command channel, with a real worker on Redis (one
// process, one thread): the agent raises an Interrupt in the thread running the message. And a
// cancel of a message the worker already prefetched (no longer in Redis): its agent skips it.
import { Redis } from 'ioredis';
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { DRAMATIQ_REDIS_URL, dramatiqAgentApp } from './helpers/dramatiq.js';
import { PythonApp } from './helpers/pyapp.js';
import { eventually } from './helpers/wait.js';

const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL });

describeAgentActions({
  engine: 'dramatiq',
  redisUrl: DRAMATIQ_REDIS_URL,
  driver: { Z4J_DRAMATIQ_REDIS_URL: DRAMATIQ_REDIS_URL },
  ...dramatiqAgentApp(app),
  terminate: () => covers('dramatiq', 'task.terminate'),
  cancel: () => undefined, // the broker path is covered by actions.dramatiq; this is its fallback to the agents
  requeue: () => undefined, // covered by actions.dramatiq; this is the rerun's place in the task's attempts
  runs: (queue, key) => app.run<number>('dqctl.py', ['runs', key], { Z4J_TEST_QUEUE: queue }),
  // The worker (one thread, busy) prefetches the waiting message: Redis's queue list is empty.
  taken: async (queue) => {
    const redis = new Redis(DRAMATIQ_REDIS_URL);
    try {
      await eventually(async () => expect(await redis.llen(`dramatiq:${queue}`)).toBe(0), 10_000, 50);
    } finally {
      redis.disconnect();
    }
  },
});
