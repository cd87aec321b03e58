// A Celery worker whose events never reach z4j (here: it sends none; in production, those lost
// while the service restarted, or its subscriber reconnected after a failover), with the app's
// results in Redis: the producer's task-sent leaves each task "enqueued" in z4j, and the result
// backend sweep settles it from what the real worker wrote there — success, failure, and a hard
// time limit — with the worker's exception and traceback.
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { CeleryResultSweep, RESULT_KEY_PREFIX, RESULT_REASON } from '../src/sources/celery/resultBackend.js';
import { REDIS_URL, isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(180_000);

interface Row { state: string; result: unknown; exception: string | null; traceback: string | null; finished: Date | null }

describe('Celery tasks settled from the result backend', () => {
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;
  let redis: Redis;
  const log = pino({ level: 'silent' });

  const row = async (id: string) =>
    (await svc.db.query<Row>('SELECT state, result, exception, traceback, finished_at AS finished FROM tasks WHERE task_id = $1', [id])).rows[0];
  const lastEvent = async (id: string) =>
    (await svc.db.query<{ kind: string; fields: Record<string, unknown> }>('SELECT kind, fields FROM task_events WHERE task_id = $1 ORDER BY occurred_at DESC LIMIT 1', [id])).rows[0];
  /** The worker ran it: its outcome is in the backend (JSON, as Celery wrote it). */
  const inBackend = (id: string) => eventually(async () => {
    const meta = JSON.parse((await redis.get(RESULT_KEY_PREFIX + id)) ?? '{}') as { status?: string };
    if (!['SUCCESS', 'FAILURE'].includes(meta.status ?? '')) throw new Error(`${id}: ${meta.status ?? 'no result'} in the backend\n${worker.output().slice(-2000)}`);
    return meta;
  }, 60_000, 200);

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch((err) => {
      throw new Error(`Redis is not reachable at ${REDIS_URL} (${err}). Start it with \`bash scripts/services.sh start\`.`);
    });
    celery = { ...isolatedCelery(REDIS_URL), resultBackend: REDIS_URL };
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('celery_results'),
      Z4J_CELERY_BROKERS: [celery.broker], Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange, Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0, // z4j must not turn the worker's events on
      Z4J_CELERY_RESULT_BACKENDS: [REDIS_URL], Z4J_INGEST_FLUSH_MS: 20,
    }), { log });
    worker = startWorker(celery, { sendEvents: false, concurrency: 2 });
  });
  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
    redis?.disconnect();
  });

  test('a success, a failure and a task killed at its time limit: enqueued in z4j until the sweep reads their outcomes', async () => {
    const ok = await sendTask(celery, 'z4j.add', [2, 3]);
    const bad = await sendTask(celery, 'z4j.fail', ['no such invoice']);
    const limited = await sendTask(celery, 'z4j.limited', [30]);
    for (const id of [ok, bad, limited]) await inBackend(id);
    await sleep(500); // anything the worker did send would be in by now
    for (const id of [ok, bad, limited]) expect([id, (await row(id))?.state]).toEqual([id, 'enqueued']);

    // The service's own sweep runs every 30 s past a 60 s grace: a test's sweep, with no grace.
    const sweep = new CeleryResultSweep(svc.db, [REDIS_URL], (source, ev) => svc.pipeline.offer(source, ev), svc.metrics, log, { graceMs: 0 });
    expect(await sweep.runOnce()).toBeGreaterThanOrEqual(3);
    await sweep.stop();
    await svc.pipeline.drained();

    expect(await row(ok)).toMatchObject({ state: 'succeeded', result: 5, exception: null });
    expect((await row(ok))!.finished).toBeInstanceOf(Date);
    expect(await lastEvent(ok)).toMatchObject({ kind: 'succeeded', fields: { markedBy: 'z4j', reason: RESULT_REASON, name: 'z4j.add' } });
    const failed = (await row(bad))!;
    expect(failed).toMatchObject({ state: 'failed', exception: 'ValueError: no such invoice' });
    expect(failed.traceback).toMatch(/ValueError: no such invoice\n?$/);
    expect(await row(limited)).toMatchObject({ state: 'failed', exception: expect.stringMatching(/^TimeLimitExceeded\b/) });
    expect((await lastEvent(limited))!.fields).toMatchObject({ timedOut: true, markedBy: 'z4j' });
  });
});
