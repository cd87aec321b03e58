// Celery over Redis pub/sub through a stalled writer: while the ingest queue is full the
// subscriber stops reading, Redis keeps what follows, and nothing is lost once the writer
// moves again. Without the hold (Z4J_CELERY_REDIS_HOLD_BYTES=0) the same stall drops events,
// which shows the stall is real; with a small bound the hold ends early and the rest is
// dropped and counted. The stall is a lock on `tasks` held by the test.
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
async function publishReceived(redis: Redis, prefix: string, n: number, perMessage = 1): Promise<void> {
  const db = Number(new URL(REDIS_URL).pathname.slice(1));
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

async function stalledRun(holdBytes: number, perMessage = 1): Promise<{ stored: number; dropped: number; heldSeconds: number }> {
  const url = await createTestDatabase('celery_hold');
  const svc: Service = await startService(loadConfig({}, {
    PORT: 0,
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    Z4J_CELERY_BROKERS: [REDIS_URL],
    Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
    Z4J_CELERY_REDIS_HOLD_BYTES: holdBytes,
    Z4J_INGEST_QUEUE_CAPACITY: CAPACITY,
    Z4J_INGEST_BATCH_SIZE: 200,
    Z4J_QUEUE_SAMPLE_INTERVAL: 0,
    Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
  }), { log: pino({ level: 'silent' }) });
  const redis = new Redis(REDIS_URL);
  const staller = new pg.Client({ connectionString: url });
  try {
    await eventually(async () => {
      const subscribers = Number((await redis.pubsub('NUMPAT')) as unknown);
      if (subscribers < 1) throw new Error('the service has not subscribed yet');
    });
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
