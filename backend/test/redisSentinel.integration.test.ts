// Celery on a Redis found through Sentinel, with the agent in its worker, and z4j reading both
// the worker's events and the agent's stream through the same sentinels (redis+sentinel://): a
// real master, replica and Sentinel (helpers/sentinel.ts). The master is killed between two tasks:
// the sentinel promotes the replica, and the worker, its agent and the service all find it.
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { newRedis } from '../src/redis.js';
import { startService, type Service } from '../src/service.js';
import { agentKeyEntry, testAgent } from './helpers/agentBatches.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { SENTINEL_SERVICE, startSentinelGroup, type SentinelGroup } from './helpers/sentinel.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(240_000);

interface TaskDetail { task: { state: string; worker: string | null }; events: { kind: string }[] }

describe('Celery and its agent on Redis through Sentinel, across a failover', () => {
  const agent = testAgent();
  let group: SentinelGroup;
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;

  const succeeded = (id: string) => eventually(async () => {
    const res = await fetch(`${svc.url}/api/tasks/celery/${id}`, { headers: authHeaders('viewer') });
    const d = res.status === 200 ? ((await res.json()) as TaskDetail) : null;
    if (d?.task.state !== 'succeeded') throw new Error(`task ${id} is ${d?.task.state ?? 'unknown'}\n${worker.output().slice(-2000)}`);
    return d;
  }, 90_000, 250);
  // The agent's enqueued event carries the retry payload, which only its stream brings.
  const sealed = (id: string) => eventually(async () => {
    if (!(await svc.db.query('SELECT 1 FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL', [id])).rows.length) throw new Error(`no payload of ${id} from the agent`);
  }, 60_000, 250);

  beforeAll(async () => {
    group = await startSentinelGroup();
    // kombu's own form: every URL a sentinel, the master's name in the transport options.
    celery = { ...isolatedCelery(`sentinel://127.0.0.1:${group.sentinelPort}/0`), transportOptions: { master_name: SENTINEL_SERVICE } };
    celery.agent = { Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project, Z4J_FLUSH_INTERVAL: '0.05' };
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('redis_sentinel'),
      Z4J_CELERY_BROKERS: [group.url(0)], Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange, Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
      Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_AGENT_REDIS_URLS: [group.url(0)],
      Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
    worker = startWorker(celery, { concurrency: 1 });
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
    group?.stop();
  });

  test("a task's lifecycle arrives from the worker's events and from its agent", async () => {
    const id = await sendTask(celery, 'z4j.add', [2, 3]);
    const d = await succeeded(id);
    expect(d.task.worker).toBe(worker.hostname);
    await sealed(id);
  });

  test('the sources name their broker without credentials', () => {
    expect(svc.sources.map((s) => s.status().broker)).toEqual([group.url(0), group.url(0)]);
  });

  test('after the master is killed, the next task arrives through the promoted replica', async () => {
    await group.failMaster();
    const failedOver = Date.now();
    // Celery's events are Redis pub/sub: what the worker publishes on the new master before the
    // service has subscribed there is lost, by design (a failover's gap). The next task is sent once
    // the service hears the worker through the new master (its heartbeats, every 2 s): sent before,
    // under load, its events could all fall in that gap.
    const events = svc.sources.find((s) => s.name.startsWith('celery'))!;
    await eventually(async () => {
      const seen = events.status();
      if (!seen.connected || (seen.lastMessageAt ?? 0) <= failedOver) throw new Error(`no event from the worker through the new master yet: ${JSON.stringify(seen)}\n${worker.output().slice(-2000)}`);
    }, 90_000, 250);
    const id = await sendTask(celery, 'z4j.add', [4, 5]);
    await succeeded(id);
    await sealed(id);
  });

});

/** The value of `key` on whichever server is the group's master now, read by a plain client. */
async function masterHas(group: SentinelGroup, db: number, key: string): Promise<string | null> {
  const master = await group.master(db);
  try {
    return await master.get(key);
  } finally {
    master.disconnect();
  }
}

describe("the service's Redis clients through Sentinel", () => {
  let group: SentinelGroup;
  beforeAll(async () => (group = await startSentinelGroup()));
  afterAll(() => group?.stop());

  test('after a switch that keeps the old master up as a replica, a connected client writes to the new master', async () => {
    // The service's clients are connected long before a failover. The demoted master would refuse
    // their writes (READONLY); the sentinels close its connections, and the client, connecting
    // again, is told the new master.
    const client = newRedis(group.url(5), { lazyConnect: true, maxRetriesPerRequest: 2 });
    // As the service's own clients do: mid-switch the sentinel may name no master for a moment,
    // an error ioredis retries after, and emits.
    client.on('error', () => undefined);
    try {
      await client.set('z4j-test:sentinel', 'before');
      await group.switchMaster();
      await client.set('z4j-test:sentinel', 'after');
      expect(await masterHas(group, 5, 'z4j-test:sentinel')).toBe('after');
    } finally {
      client.disconnect();
    }
  });
});

describe('Redis and its sentinel on TLS only, with a private CA', () => {
  let group: SentinelGroup;
  beforeAll(async () => (group = await startSentinelGroup({ tls: true })));
  afterAll(() => group?.stop());

  test('rediss+sentinel:// naming the CA reaches the master through the sentinel; without the CA it is refused', async () => {
    const base = `rediss+sentinel://127.0.0.1:${group.sentinelPort}/${SENTINEL_SERVICE}/4`;
    const client = newRedis(`${base}?ssl_ca_certs=${encodeURIComponent(group.cafile!)}&sentinel_ssl=true`, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      await client.set('z4j-test:tls', 'ok');
      expect(await masterHas(group, 4, 'z4j-test:tls')).toBe('ok');
    } finally {
      client.disconnect();
    }
    // With the system's CAs the sentinel's certificate is refused (ioredis says only that no
    // sentinel answered; the group works, as the write above shows).
    const untrusting = newRedis(`${base}?sentinel_ssl=true`, { lazyConnect: true, maxRetriesPerRequest: 0, sentinelRetryStrategy: () => null });
    untrusting.on('error', () => undefined);
    await expect(untrusting.connect()).rejects.toThrow(/unreachable/);
    untrusting.disconnect();
  });
});
