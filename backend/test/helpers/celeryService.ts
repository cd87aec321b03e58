// A z4j service for a Celery test app whose agent is on: its own database, the app's broker for
// Celery's events and control, and the agent's batches on that broker (a Redis stream, or an
// AMQP queue of its own). On Redis the service reads every agent stream of the broker's database
// with the consumer group z4j: two suites on one database side by side would take, and refuse as
// unknown, each other's batches; each suite has a database of its own.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { startService, type Service } from '../../src/service.js';
import { agentKeyEntry, testAgent } from './agentBatches.js';
import { TEST_PROXY_SECRET } from './auth.js';
import type { CeleryEnv, Worker } from './celery.js';
import { createTestDatabase } from './storage.js';
import { eventually } from './wait.js';

/** Starts the service (`settings` over the suite's), and sets `celery.agent` so that the app's processes run the agent. */
export async function celeryServiceWithAgent(celery: CeleryEnv, database: string, settings: Partial<Config> = {}): Promise<Service> {
  const agent = testAgent();
  const amqp = /^amqps?:/.test(celery.broker);
  const agentQueue = `z4j.events.${randomUUID().slice(0, 8)}`;
  celery.agent = {
    Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project, Z4J_FLUSH_INTERVAL: '0.05',
    ...(amqp ? { Z4J_AMQP_QUEUE: agentQueue } : {}),
  };
  const config = loadConfig({}, {
    PORT: 0,
    HOST: '127.0.0.1',
    DATABASE_URL: await createTestDatabase(database),
    Z4J_CELERY_BROKERS: [celery.broker],
    Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange,
    Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
    Z4J_CELERY_AMQP_QUEUE: `z4j.${celery.eventExchange}`,
    Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
    Z4J_INGEST_FLUSH_MS: 20,
    Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    Z4J_AGENT_KEYS: [agentKeyEntry(agent)],
    ...(amqp ? { Z4J_AGENT_AMQP_URLS: [celery.broker], Z4J_AGENT_AMQP_QUEUE: agentQueue } : { Z4J_AGENT_REDIS_URLS: [celery.broker] }),
    ...settings,
  });
  return startService(config, { log: pino({ level: 'warn' }) });
}

/** Waits until the service has the worker online (its worker-online event stored). */
export async function workerOnline(svc: Service, worker: Worker): Promise<void> {
  await eventually(async () => {
    const rows = (await svc.db.query('SELECT 1 FROM workers WHERE hostname = $1 AND online', [worker.hostname])).rows;
    if (!rows.length) throw new Error(`worker not online yet:\n${worker.output()}`);
  });
}
