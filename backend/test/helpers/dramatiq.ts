// Real Dramatiq for integration tests: tests/engines/dramatiq_app with workers and dqctl.py.
import type { AgentActionsUnderTest } from './agentActions.js';
import { PythonApp, type PyProcess } from './pyapp.js';
import { sleep } from './wait.js';

export const DRAMATIQ_REDIS_URL = process.env.Z4J_TEST_DRAMATIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
/** The RabbitMQ of the RabbitmqBroker tests (pika's URL: the default vhost spelled out). */
export const DRAMATIQ_AMQP_URL = process.env.Z4J_TEST_AMQP_URL_PIKA ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL });

export type DramatiqWorker = PyProcess;

/** `env`: more of the app's settings, e.g. Z4J_TEST_DRAMATIQ_NAMESPACE (the RedisBroker's namespace). */
export const startDramatiqWorker = (queue: string, env: Record<string, string> = {}): DramatiqWorker =>
  app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], { ...env, Z4J_TEST_QUEUE: queue });

export const dqctlWith = <T>(env: Record<string, string>, queue: string, ...args: string[]) => app.run<T>('dqctl.py', args, { ...env, Z4J_TEST_QUEUE: queue });

export const dqctl = <T>(queue: string, ...args: string[]) => dqctlWith<T>({}, queue, ...args);

/** The Dramatiq test app as the agent-actions contract drives it (`app` on Redis or on RabbitMQ): one worker process, one thread. */
export function dramatiqAgentApp(app: PythonApp): Pick<AgentActionsUnderTest, 'startWorker' | 'send' | 'get' | 'notRetried'> {
  const get = (queue: string, key: string) => app.run<string | null>('dqctl.py', ['get', key], { Z4J_TEST_QUEUE: queue });
  return {
    startWorker: (queue, env) => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], { ...env, Z4J_TEST_QUEUE: queue }),
    send: (queue, name, args, kwargs, env) => {
      if (Object.keys(kwargs).length) throw new Error('dqctl sends positional arguments only');
      return app.run<string>('dqctl.py', ['send', name, JSON.stringify(args)], { ...env, Z4J_TEST_QUEUE: queue });
    },
    get,
    // `long` allows 3 retries: Retries must not have re-sent the terminated message.
    notRetried: async (queue, key) => {
      await sleep(1000);
      expect(await get(queue, `z4j-test-long-runs:${key}`)).toBe('1');
    },
  };
}
