import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Db } from '../../db/db.js';
import type { TaskEnvelope } from '../../ingest/envelope.js';
import { IngestPipeline } from '../../ingest/pipeline.js';
import { createMetrics } from '../../metrics.js';
import { T0, taskEvent } from '../../../test/helpers/envelopes.js';
import { REDIS_URL } from '../../../test/helpers/celery.js';
import { STORAGES, openTestDb } from '../../../test/helpers/storage.js';
import { backendLocation, CeleryResultSweep, MAX_RESULT_BYTES, parseCeleryResult, readResults, RESULT_KEY_PREFIX, RESULT_REASON } from './resultBackend.js';

const log = pino({ level: 'silent' });

// What Celery wrote, read back from real workers' Redis backends (prefork, 5.7.0 and 5.3.0).
const captured = {
  success57: '{"status": "SUCCESS", "result": {"x": 3, "password": "hunter2"}, "traceback": null, "children": [], "date_done": "2026-12-05T12:04:00.999948+00:00", "task_id": "c817cdcc-e7d6-47b3-83e6-23b374e16056"}',
  failure57: '{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad thing"], "exc_module": "builtins"}, "traceback": "Traceback (most recent call last):\\n  File \\"/app/capapp.py\\", line 7, in boom\\n    def boom(): raise ValueError(\\"bad thing\\")\\nValueError: bad thing\\n", "children": [], "date_done": "2026-12-05T12:04:00.999865+00:00", "task_id": "fccd723b-3f3e-4bd3-bcd2-43ee242cd47e"}',
  started57: '{"status": "STARTED", "result": {"pid": 24576, "hostname": "celery@vm"}, "traceback": null, "children": [], "date_done": null, "task_id": "749b7381-b6f0-423f-8223-43adc00e0e24"}',
  revoked57: '{"status": "REVOKED", "result": {"exc_type": "TaskRevokedError", "exc_message": ["terminated"], "exc_module": "celery.exceptions"}, "traceback": null, "children": [], "date_done": "2026-12-05T12:04:05.005481+00:00", "task_id": "749b7381-b6f0-423f-8223-43adc00e0e24"}',
  success53: '{"status": "SUCCESS", "result": {"x": 3, "password": "hunter2"}, "traceback": null, "children": [], "date_done": "2026-12-05T12:04:13.267077", "task_id": "c032d070-312e-4ae6-8e0b-2d0f4d23df64"}',
};

describe('parseCeleryResult', () => {
  test("reads a success, a failure and a revocation as Celery 5.7 writes them", () => {
    expect(parseCeleryResult(captured.success57)).toEqual({ kind: 'succeeded', at: Date.parse('2026-12-05T12:04:00.999Z'), result: { x: 3, password: 'hunter2' } });
    expect(parseCeleryResult(captured.failure57)).toEqual({
      kind: 'failed', at: Date.parse('2026-12-05T12:04:00.999Z'), exception: 'ValueError: bad thing',
      traceback: 'Traceback (most recent call last):\n  File "/app/capapp.py", line 7, in boom\n    def boom(): raise ValueError("bad thing")\nValueError: bad thing\n',
    });
    expect(parseCeleryResult(captured.revoked57)).toEqual({ kind: 'revoked', at: Date.parse('2026-12-05T12:04:05.005Z'), exception: 'TaskRevokedError: terminated' });
  });

  test("takes 5.3's date_done, which has no offset, as UTC", () => {
    expect(parseCeleryResult(captured.success53)?.at).toBe(Date.parse('2026-12-05T12:04:13.267Z'));
  });

  test('marks a failure at a time limit timed out', () => {
    const raw = JSON.stringify({ status: 'FAILURE', result: { exc_type: 'TimeLimitExceeded', exc_message: [1], exc_module: 'billiard.exceptions' }, date_done: '2026-12-05T12:00:00+00:00' });
    expect(parseCeleryResult(raw)).toMatchObject({ kind: 'failed', exception: 'TimeLimitExceeded: 1', timedOut: true });
  });

  test('leaves what is not an outcome, or cannot be read, to the worker: null', () => {
    for (const raw of [
      null, '', captured.started57, 'not json', '\x80\x04\x95', '[]', 'null', '"SUCCESS"',
      JSON.stringify({ status: 'RETRY', result: { exc_type: 'Retry' }, date_done: '2026-12-05T12:00:00+00:00' }),
      JSON.stringify({ status: 'PENDING', result: null, date_done: null }),
      JSON.stringify({ status: 'SUCCESS', result: 1 }), // no date_done
      JSON.stringify({ status: 'SUCCESS', result: 1, date_done: 'yesterday' }),
      JSON.stringify({ status: 'toString', date_done: '2026-12-05T12:00:00+00:00' }),
    ]) {
      expect([raw, parseCeleryResult(raw)]).toEqual([raw, null]);
    }
  });
});

/** A client of the tests' Redis, or a failure that says how to start it. */
async function testRedis(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect().catch((err) => {
    throw new Error(`Redis is not reachable at ${REDIS_URL} (${err}). Start it with \`bash scripts/services.sh start\`.`);
  });
  return redis;
}

/** Deletes the keys a test wrote, and closes its client. */
async function forget(redis: Redis | undefined, keys: string[]): Promise<void> {
  if (keys.length) await redis?.del(...keys);
  redis?.disconnect();
}

describe('backendLocation', () => {
  test("takes the app's global_keyprefix off the URL, and joins it to Celery's key prefix as Celery does", () => {
    expect(backendLocation('redis://h:6379/1')).toEqual({ clientUrl: 'redis://h:6379/1', taskKeyPrefix: 'celery-task-meta-' });
    expect(backendLocation('redis://:pw@h:6379/1?global_keyprefix=app1:')).toEqual({ clientUrl: 'redis://:pw@h:6379/1', taskKeyPrefix: 'app1:celery-task-meta-' });
    expect(backendLocation('rediss://h/0?global_keyprefix=app1&ca=%2Fetc%2Fca.pem').taskKeyPrefix).toBe('app1_celery-task-meta-');
    expect(backendLocation('rediss://h/0?global_keyprefix=app1&ca=%2Fetc%2Fca.pem').clientUrl).toBe('rediss://h/0?ca=%2Fetc%2Fca.pem');
    for (const end of ['.', '-', '_']) expect(backendLocation(`redis://h/0?global_keyprefix=a${end}`).taskKeyPrefix).toBe(`a${end}celery-task-meta-`);
    const sentinel = backendLocation('redis+sentinel://s1:26379,s2:26379/mymaster/2?global_keyprefix=app1:');
    expect(sentinel).toEqual({ clientUrl: 'redis+sentinel://s1:26379,s2:26379/mymaster/2', taskKeyPrefix: 'app1:celery-task-meta-' });
  });
});

describe('readResults', () => {
  let redis: Redis;
  const keys: string[] = [];
  beforeAll(async () => {
    redis = await testRedis();
  });
  afterAll(async () => {
    await forget(redis, keys);
  });

  test('reads the results of a page in MGETs of bounded size, and leaves out the absent and the too large', async () => {
    const big = Array.from({ length: 12 }, () => randomUUID()); // 12 × 0.9 MiB: more than one MGET's bytes
    const [huge, absent, small] = [randomUUID(), randomUUID(), randomUUID()];
    const value = (n: number) => JSON.stringify({ status: 'SUCCESS', result: 'x'.repeat(n), date_done: '2026-12-05T12:00:00+00:00' });
    for (const id of big) await redis.set(RESULT_KEY_PREFIX + id, value(900 * 1024));
    await redis.set(RESULT_KEY_PREFIX + huge, value(MAX_RESULT_BYTES));
    await redis.set(RESULT_KEY_PREFIX + small, value(1));
    keys.push(...[...big, huge, small].map((id) => RESULT_KEY_PREFIX + id));
    const mgets = jest.spyOn(redis, 'mget');
    const read = await readResults(redis, [...big, huge, absent, small], log);
    expect(read.map(([id]) => id)).toEqual([...big, small]);
    expect(read.every(([, raw]) => parseCeleryResult(raw)?.kind === 'succeeded')).toBe(true);
    expect(mgets.mock.calls.length).toBeGreaterThan(1);
    mgets.mockRestore();
  });
});

describe.each(STORAGES)('Celery result backend sweep on %s', (storage) => {
  let db: Db;
  let pipeline: IngestPipeline;
  let redis: Redis;
  const keys: string[] = [];
  beforeAll(async () => {
    db = await openTestDb(storage, 'celery_results');
    pipeline = new IngestPipeline(db, { capacity: 1000, batchSize: 100, flushMs: 5, maxFieldChars: 1000, writers: 2 }, createMetrics(), log);
    pipeline.start();
    redis = await testRedis();
  });
  afterAll(async () => {
    await forget(redis, keys);
    await pipeline?.stop();
    await db?.close();
  });

  const ingest = async (...events: TaskEnvelope[]) => {
    for (const e of events) await pipeline.offer('test', e);
    await pipeline.drained();
  };
  const store = async (taskId: string, meta: Record<string, unknown>) => {
    keys.push(RESULT_KEY_PREFIX + taskId);
    await redis.set(RESULT_KEY_PREFIX + taskId, JSON.stringify({ traceback: null, children: [], task_id: taskId, ...meta }));
  };
  const task = async (taskId: string) =>
    (await db.query<{ state: string; finished: number | null; result: unknown; exception: string | null }>(
      `SELECT state, round(extract(epoch FROM finished_at) * 1000)::float8 AS finished, result, exception FROM tasks WHERE task_id = $1`, [taskId])).rows[0];
  const timeline = async (taskId: string) =>
    (await db.query<{ kind: string; fields: Record<string, unknown> }>(`SELECT kind, fields FROM task_events WHERE task_id = $1 ORDER BY occurred_at, kind`, [taskId])).rows;
  const celery = (taskId: string, kind: TaskEnvelope['kind'], atMs: number, fields: TaskEnvelope['fields'] = {}) =>
    taskEvent(taskId, kind, atMs, { name: 'app.job', retries: 0, ...fields }, { engine: 'celery', ...(kind === 'enqueued' ? { worker: undefined } : {}) });
  const sweep = (urls = [REDIS_URL], pageSize = 500, metrics = createMetrics()) =>
    new CeleryResultSweep(db, urls, (source, ev) => pipeline.offer(source, ev), metrics, log, { graceMs: 30_000, pageSize });
  const runRound = async (s: CeleryResultSweep) => {
    const found = await s.runOnce();
    await pipeline.drained();
    return found;
  };
  const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
  const doneAt = (ms: number) => new Date(T0 + ms).toISOString();

  it('settles the open tasks the backend has the outcome of, says why in the timeline, redacts the result, and counts them', async () => {
    const [ok, bad, gone, started, waiting, absent] = ids(6);
    await ingest(celery(ok!, 'enqueued', 0), celery(bad!, 'enqueued', 0), celery(gone!, 'enqueued', 0), celery(started!, 'enqueued', 0), celery(started!, 'started', 5),
      celery(waiting!, 'enqueued', 0), celery(absent!, 'enqueued', 0));
    await store(ok!, { status: 'SUCCESS', result: { total: 5, api_key: 'sk-live-123' }, date_done: doneAt(1000) });
    await store(bad!, { status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' }, traceback: 'Traceback…\nValueError: boom\n', date_done: doneAt(2000) });
    await store(gone!, { status: 'REVOKED', result: { exc_type: 'TaskRevokedError', exc_message: ['revoked'], exc_module: 'celery.exceptions' }, children: null, date_done: doneAt(3000) });
    await store(started!, { status: 'STARTED', result: { pid: 1, hostname: 'celery@h' }, date_done: null });
    await store(waiting!, { status: 'RETRY', result: { exc_type: 'Retry', exc_message: [] }, date_done: doneAt(4000) });
    const metrics = createMetrics();
    const s = sweep([REDIS_URL], 500, metrics);
    expect(await runRound(s)).toBe(3);
    await s.stop();

    expect(await task(ok!)).toEqual({ state: 'succeeded', finished: T0 + 1000, result: { total: 5, api_key: '[redacted]' }, exception: null });
    expect(await task(bad!)).toMatchObject({ state: 'failed', finished: T0 + 2000, exception: 'ValueError: boom' });
    expect(await task(gone!)).toMatchObject({ state: 'revoked', finished: T0 + 3000 });
    for (const id of [started!, waiting!, absent!]) expect(await task(id)).toMatchObject({ state: id === started ? 'started' : 'enqueued', finished: null });
    expect((await timeline(ok!)).map((e) => [e.kind, e.fields])).toEqual([
      ['enqueued', { name: 'app.job', retries: 0 }],
      ['succeeded', { name: 'app.job', retries: 0, result: { total: 5, api_key: '[redacted]' }, markedBy: 'z4j', reason: RESULT_REASON }],
    ]);
    expect((await timeline(bad!))[1]!.fields).toMatchObject({ exception: 'ValueError: boom', traceback: 'Traceback…\nValueError: boom\n', reason: RESULT_REASON });
    const text = await metrics.registry.metrics();
    for (const outcome of ['succeeded', 'failed', 'revoked']) expect(text).toContain(`z4j_celery_tasks_settled_from_results_total{outcome="${outcome}"} 1\n`);

    // Settled once: a second sweep (another round, another replica) finds nothing more to do.
    const again = sweep();
    expect(await runRound(again)).toBe(0);
    await again.stop();
    expect(await timeline(ok!)).toHaveLength(2);
  });

  it('leaves a task alone within the grace, and a worker event that comes later still counts', async () => {
    const [recent, late] = ids(2);
    await ingest(taskEvent(recent!, 'enqueued', 0, { name: 'app.job', retries: 0 }, { engine: 'celery', worker: undefined, occurredAt: Date.now() }));
    await store(recent!, { status: 'SUCCESS', result: 1, date_done: new Date().toISOString() });
    await ingest(celery(late!, 'enqueued', 0));
    await store(late!, { status: 'SUCCESS', result: 2, date_done: doneAt(1000) });
    const s = sweep();
    expect(await runRound(s)).toBe(1);
    await s.stop();
    expect(await task(recent!)).toMatchObject({ state: 'enqueued' });
    // The worker's own events arrive after all (its subscriber caught up): they take their place beside the read outcome.
    await ingest(celery(late!, 'started', 500), celery(late!, 'succeeded', 1000, { result: 2, runtime: 0.5 }));
    expect(await task(late!)).toMatchObject({ state: 'succeeded', finished: T0 + 1000 });
    expect((await timeline(late!)).map((e) => e.kind)).toEqual(['enqueued', 'started', 'succeeded', 'succeeded']);
  });

  it('looks at a page per state each round and goes on from there, so a long backlog is worked through in turn', async () => {
    const tasks = ids(5);
    for (const [i, id] of tasks.entries()) await ingest(celery(id, 'enqueued', i));
    // Only the oldest has an outcome: the newest pages come first, one per round.
    await store(tasks[0]!, { status: 'SUCCESS', result: 0, date_done: doneAt(1000) });
    const s = sweep([REDIS_URL], 2);
    const rounds: number[] = [];
    while ((await task(tasks[0]!))!.state === 'enqueued' && rounds.length < 20) rounds.push(await runRound(s));
    await s.stop();
    expect(await task(tasks[0]!)).toMatchObject({ state: 'succeeded' });
    expect(rounds.length).toBeGreaterThan(1); // not all in the first round's page of 2
  });

  it("reads an app's results under its global_keyprefix", async () => {
    const [id] = ids(1);
    await ingest(celery(id!, 'enqueued', 0));
    keys.push(`app9:${RESULT_KEY_PREFIX}${id}`);
    await redis.set(`app9:${RESULT_KEY_PREFIX}${id}`, JSON.stringify({ status: 'SUCCESS', result: 7, traceback: null, children: [], date_done: doneAt(1000), task_id: id }));
    const s = sweep([`${REDIS_URL}?global_keyprefix=app9:`]);
    expect(await runRound(s)).toBe(1);
    await s.stop();
    expect(await task(id!)).toMatchObject({ state: 'succeeded', result: 7 });
  });

  it('carries on when a backend cannot be read, with the others', async () => {
    const [id] = ids(1);
    await ingest(celery(id!, 'enqueued', 0));
    await store(id!, { status: 'SUCCESS', result: 1, date_done: doneAt(1000) });
    const s = sweep(['redis://127.0.0.1:1/0', REDIS_URL]);
    expect(await runRound(s)).toBe(1);
    await s.stop();
    expect(await task(id!)).toMatchObject({ state: 'succeeded' });
  });
});
