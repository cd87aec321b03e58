// Celery over Redis pub/sub through a stalled writer: while the ingest queue is full the
// subscriber stops reading, Redis keeps what follows, and nothing is lost once the writer
// moves again. Without the hold (Z4J_CELERY_REDIS_HOLD_BYTES=0) the same stall drops events,
// which shows the stall is real; with a small bound the hold ends early and the rest is
// dropped and counted. The stall is a lock on `tasks` held by the test.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { encodeRedisMessage } from '../src/sources/celery/kombu.js';
import { TEST_PROXY_SECRET } from './helpers/auth.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

const REDIS_URL = process.env.Z4J_TEST_CELERY_HOLD_REDIS_URL ?? 'redis://127.0.0.1:6379/19';
const CAPACITY = 5000;
const EVENTS = 15_000;

/**
 * `n` task-received events as a worker publishes them: one kombu message each, or, with
 * `perMessage` > 1, as `task.multi` lists of that many (workers that buffer their events).
 */
async function publishReceived(redis: Redis, prefix: string, n: number, perMessage = 1, db = Number(new URL(REDIS_URL).pathname.slice(1))): Promise<void> {
  const event = (i: number) => ({
    hostname: 'celery@hold', utcoffset: 0, pid: 4242, clock: i + 1, timestamp: Date.now() / 1000, uuid: `${prefix}-${i}`,
    type: 'task-received', name: 'app.tasks.add', args: `(${i}, 2)`, kwargs: '{}', root_id: `${prefix}-${i}`, parent_id: null, retries: 0,
  });
  const pipe = redis.pipeline();
  for (let i = 0; i < n; i += perMessage) {
    const kind = perMessage > 1 ? 'task.multi' : 'task.received';
    const body = perMessage > 1 ? Array.from({ length: Math.min(perMessage, n - i) }, (_, k) => event(i + k)) : event(i);
    pipe.publish(`/${db}.celeryev/${kind}`, encodeRedisMessage(body, { hostname: 'celery@hold' }, { exchange: 'celeryev', routing_key: kind }));
  }
  await pipe.exec();
}

/** A service on a fresh database reading Celery events from `brokerUrl` (its settings plus `more`). */
async function celeryService(database: string, brokerUrl: string, more: Record<string, unknown>): Promise<{ svc: Service; url: string }> {
  const url = await createTestDatabase(database);
  const svc = await startService(loadConfig({}, {
    PORT: 0,
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    Z4J_CELERY_BROKERS: [brokerUrl],
    Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
    Z4J_QUEUE_SAMPLE_INTERVAL: 0,
    Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    ...more,
  }), { log: pino({ level: 'silent' }) });
  return { svc, url };
}

/** Until the service has subscribed to the event exchange on `redis`. */
async function subscribed(redis: Redis): Promise<void> {
  await eventually(async () => {
    if (Number((await redis.pubsub('NUMPAT')) as unknown) < 1) throw new Error('the service has not subscribed yet');
  });
}

async function stalledRun(holdBytes: number, perMessage = 1): Promise<{ stored: number; dropped: number; heldSeconds: number }> {
  const { svc, url } = await celeryService('celery_hold', REDIS_URL, {
    Z4J_CELERY_REDIS_HOLD_BYTES: holdBytes,
    Z4J_INGEST_QUEUE_CAPACITY: CAPACITY,
    Z4J_INGEST_BATCH_SIZE: 200,
  });
  const redis = new Redis(REDIS_URL);
  const staller = new pg.Client({ connectionString: url });
  try {
    await subscribed(redis);
    await staller.connect();
    await staller.query('BEGIN');
    await staller.query('LOCK TABLE tasks IN EXCLUSIVE MODE'); // the writer's inserts wait
    await publishReceived(redis, `hold${holdBytes}x${perMessage}`, EVENTS, perMessage);
    await eventually(async () => {
      if (svc.pipeline.size < CAPACITY * 0.9) throw new Error(`queue at ${svc.pipeline.size}`);
    });
    await sleep(1500); // the stall goes on while Redis keeps (or the service drops) the rest
    await staller.query('COMMIT');
    await eventually(async () => {
      const t = svc.pipeline.totals;
      if (t.persisted + t.dropped < EVENTS) throw new Error(`persisted ${t.persisted}, dropped ${t.dropped} of ${EVENTS}`);
    }, 60_000);
    await svc.pipeline.drained();
    const stored = Number((await svc.db.query<{ n: string }>('SELECT count(*) AS n FROM task_events')).rows[0]!.n);
    const held = (await svc.metrics.sourceHeldSeconds.get()).values.reduce((sum, v) => sum + v.value, 0);
    return { stored, dropped: svc.pipeline.totals.dropped, heldSeconds: held };
  } finally {
    await staller.end().catch(() => undefined);
    redis.disconnect();
    await svc.stop();
  }
}

describe('Celery over Redis through a stalled writer', () => {
  test('the subscriber holds back while the queue is full: nothing is lost', async () => {
    const run = await stalledRun(24 * 1024 * 1024); // more than the ≈ 10 MB published: the bound never ends this hold
    expect(run).toEqual({ stored: EVENTS, dropped: 0, heldSeconds: expect.any(Number) });
    expect(run.heldSeconds).toBeGreaterThan(1);
  });

  test('messages of many events each (task.multi): those read before the hold wait for it, none overflows the queue', async () => {
    // 16 events a message: the up to 512 messages read and not yet decoded when the hold begins
    // are 8,000 events, more than the queue's last tenth (500) could take.
    const run = await stalledRun(24 * 1024 * 1024, 16);
    expect(run).toEqual({ stored: EVENTS, dropped: 0, heldSeconds: expect.any(Number) });
    expect(run.heldSeconds).toBeGreaterThan(1);
  });

  test('the hold ends once Redis holds the bound for the subscriber; then overflow is dropped and counted', async () => {
    // 15,000 messages are ≈ 10 MB: far past a 64 kB bound once the kernel's socket buffers are full.
    const run = await stalledRun(64 * 1024);
    expect(run.dropped).toBeGreaterThan(0);
    expect(run.stored + run.dropped).toBe(EVENTS);
    expect(run.heldSeconds).toBeGreaterThan(0);
    expect(run.heldSeconds).toBeLessThan(1.5); // the stall lasts longer: the bound ended the hold
  });

  test('without the hold the same stall drops events, and counts them', async () => {
    const run = await stalledRun(0);
    expect(run.dropped).toBeGreaterThan(0);
    expect(run.stored + run.dropped).toBe(EVENTS);
    expect(run.heldSeconds).toBe(0);
  });

  test('task.multi messages dropped while the queue is full are counted event by event, undecoded', async () => {
    const run = await stalledRun(0, 16);
    expect(run.dropped).toBeGreaterThan(0);
    expect(run.stored + run.dropped).toBe(EVENTS);
  });
});

/**
 * A Redis of the test's own, whose pub/sub clients are cut off past `limit` (Redis's
 * client-output-buffer-limit): small enough for a test's burst to reach, and no other test's
 * subscriber shares it.
 */
async function ownRedis(limit: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    }).on('error', reject);
  });
  const proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--client-output-buffer-limit', `pubsub ${limit}`], { stdio: 'ignore' });
  proc.on('error', () => undefined); // reported by the wait below
  const url = `redis://127.0.0.1:${port}/0`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await eventually(async () => {
      await probe.connect().catch(() => undefined);
      if ((await probe.ping()) !== 'PONG') throw new Error(`no redis-server on ${port} (is it installed? scripts/setup-system.sh)`);
    }, 10_000);
  } finally {
    probe.disconnect();
  }
  return { url, stop: async () => {
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
  } };
}

/**
 * Celery events published faster than the subscriber reads them, with room in the queue (no hold
 * applies), on a Redis that cuts pub/sub clients off at 8 MB at once (or 4 MB for 60 s). The
 * publisher is the benchmark's load generator, in a process of its own; each event the
 * subscriber decodes takes 0.1 ms more to offer (at most 10,000 events/s: a slow spell's deficit,
 * brought about on purpose). Returns what was published, stored and dropped, and whether Redis
 * closed the subscriber (it reconnects: its client id changes).
 */
async function outpacedRun(rate: number, seconds: number): Promise<{ published: number; heartbeats: number; stored: number; dropped: number; closed: boolean }> {
  const own = await ownRedis('8mb 4mb 60');
  const { svc } = await celeryService('celery_outpaced', own.url, {
    Z4J_INGEST_QUEUE_CAPACITY: 1_000_000, // never full: this is about reading, not writing
  });
  const redis = new Redis(own.url);
  const subscriberIds = new Set<string>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const line = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').find((l) => l.includes('name=z4j-celery-events-'));
      const id = line?.match(/^id=(\d+)/)?.[1];
      if (id) subscriberIds.add(id);
      await sleep(10);
    }
  })();
  const offer = svc.pipeline.tryOffer.bind(svc.pipeline);
  svc.pipeline.tryOffer = (...args: Parameters<typeof offer>) => {
    const until = performance.now() + 0.1;
    while (performance.now() < until); // the subscriber's loop does nothing else meanwhile
    return offer(...args);
  };
  try {
    await subscribed(redis);
    const generator = new URL('../../tests/bench/celery-load.mjs', import.meta.url).pathname;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [generator, '--url', own.url, '--rate', String(rate), '--seconds', String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`celery-load exited with ${code}`))));
    });
    const { published, heartbeats } = JSON.parse(out.trim().split('\n').pop()!) as { published: number; heartbeats: number };
    await eventually(async () => {
      const t = svc.pipeline.totals;
      // A subscriber cut off loses what Redis held for it: then the count never adds up.
      if (t.persisted + t.dropped < published && subscriberIds.size < 2) throw new Error(`persisted ${t.persisted}, dropped ${t.dropped} of ${published}`);
    }, 60_000);
    await svc.pipeline.drained();
    const stored = Number((await svc.db.query<{ n: string }>('SELECT count(*) AS n FROM task_events')).rows[0]!.n);
    return { published, heartbeats, stored, dropped: svc.pipeline.totals.dropped, closed: subscriberIds.size > 1 };
  } finally {
    sampling = false;
    await sampler.catch(() => undefined);
    redis.disconnect();
    await svc.stop();
    await own.stop();
  }
}

describe('Celery over Redis: a subscriber that falls behind', () => {
  test('drops (counted, undecoded) before Redis would cut it off, and is never cut off', async () => {
    // 20,000 events/s (≈ 6 MB/s) for 4 s to a subscriber that takes at most 10,000: Redis holds
    // more and more for it (≈ 3 MB/s), and would close it past 8 MB.
    const run = await outpacedRun(20_000, 4);
    expect(run.closed).toBe(false);
    expect(run.dropped).toBeGreaterThan(0);
    // Every task event stored or counted; a worker heartbeat dropped is counted too (an event),
    // one stored is not a task event.
    expect(run.stored + run.dropped).toBeGreaterThanOrEqual(run.published);
    expect(run.stored + run.dropped).toBeLessThanOrEqual(run.published + run.heartbeats);
  });
});
