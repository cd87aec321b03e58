// Dramatiq terminate through the agent command channel, with a real worker on Redis (one
// process, one thread): the agent raises an Interrupt in the thread running the message.
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { DRAMATIQ_REDIS_URL, dramatiqAgentApp } from './helpers/dramatiq.js';
import { PythonApp } from './helpers/pyapp.js';

const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL });

describeAgentActions({
  engine: 'dramatiq',
  redisUrl: DRAMATIQ_REDIS_URL,
  driver: { Z4J_DRAMATIQ_REDIS_URL: DRAMATIQ_REDIS_URL },
  ...dramatiqAgentApp(app),
  terminate: () => covers('dramatiq', 'task.terminate'),
});
