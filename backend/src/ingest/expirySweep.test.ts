import { pino } from 'pino';
import type { Db } from '../db/db.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { createMetrics } from '../metrics.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import { openPglite } from '../db/pglite.js';
import { T0, taskEvent } from '../../test/helpers/envelopes.js';
import { DUE_SQL, EXPIRY_REASON, markExpiredTasks, sweepExpiredTasks } from './expirySweep.js';
import type { TaskEnvelope } from './envelope.js';
import { IngestPipeline } from './pipeline.js';

const log = pino({ level: 'silent' });
const GRACE_MS = 60_000;
/** Two minutes from now: past the grace of an expiry a moment after T0 (a minute ago), within that of one later. */
const later = () => Date.now() + 120_000;
const iso = (atMs: number) => new Date(T0 + atMs).toISOString();
const EXPIRES = 1000;

describe.each(STORAGES)('expiry sweep on %s', (storage) => {
  let db: Db;
  let pipeline: IngestPipeline;
  beforeAll(async () => {
    db = await openTestDb(storage, 'expiry');
    pipeline = new IngestPipeline(db, { capacity: 1000, batchSize: 100, flushMs: 5, maxFieldChars: 1000, writers: 2 }, createMetrics(), log);
    pipeline.start();
  });
  afterAll(async () => {
    await pipeline?.stop();
    await db?.close();
  });

  async function ingest(...events: TaskEnvelope[]) {
    for (const e of events) await pipeline.offer('test', e);
    await pipeline.drained();
  }
  const task = async (taskId: string) =>
    (await db.query<{ state: string; finished: number | null }>(`SELECT state, round(extract(epoch FROM finished_at) * 1000)::float8 AS finished FROM tasks WHERE task_id = $1`, [taskId])).rows[0];
  const timeline = async (taskId: string) =>
    (await db.query<{ kind: string; worker: string | null; fields: Record<string, unknown> }>(`SELECT kind, worker, fields FROM task_events WHERE task_id = $1 ORDER BY occurred_at, kind`, [taskId])).rows;
  const enqueued = (taskId: string, fields: TaskEnvelope['fields'] = { expires: iso(EXPIRES) }) => taskEvent(taskId, 'enqueued', 0, { name: 'app.slow', retries: 0, ...fields }, { engine: 'rq', worker: undefined });
  const rq = (taskId: string, kind: TaskEnvelope['kind'], atMs: number, fields: TaskEnvelope['fields'] = {}) => taskEvent(taskId, kind, atMs, { retries: 0, ...fields }, { engine: 'rq' });
  const sweep = (now = later) => markExpiredTasks(db, { graceMs: GRACE_MS, now });

  it('marks a task that waited past its expiry, with a timeline entry that says why, and counts it', async () => {
    await ingest(enqueued('x-waiting'), enqueued('x-received'), rq('x-received', 'received', 10));
    await ingest(enqueued('x-in-grace', { expires: new Date(Date.now() + 100_000).toISOString() }));
    const metrics = createMetrics();
    expect(await sweepExpiredTasks(db, metrics, log, { graceMs: GRACE_MS, now: later })).toBe(2);
    expect(await task('x-waiting')).toEqual({ state: 'expired', finished: T0 + EXPIRES });
    expect(await task('x-received')).toEqual({ state: 'expired', finished: T0 + EXPIRES });
    expect(await task('x-in-grace')).toMatchObject({ state: 'enqueued' }); // its worker may still say so itself
    expect((await timeline('x-waiting')).map((e) => [e.kind, e.worker, e.fields])).toEqual([
      ['enqueued', null, { name: 'app.slow', retries: 0, expires: iso(EXPIRES) }],
      ['expired', null, { name: 'app.slow', retries: 0, expires: iso(EXPIRES), markedBy: 'z4j', reason: EXPIRY_REASON }],
    ]);
    expect(await metrics.registry.metrics()).toMatch(/z4j_tasks_marked_expired_total\{engine="rq"\} 2\n/);
    // Marked once: a second round (or another replica's) finds nothing to do.
    expect(await sweep()).toEqual({ due: 0, marked: [] });
    expect(await timeline('x-waiting')).toHaveLength(2);
  });

  it('leaves alone a task that started or ended, and one without an expiry', async () => {
    await ingest(enqueued('x-started'), rq('x-started', 'received', 10), rq('x-started', 'started', 20));
    await ingest(enqueued('x-done'), rq('x-done', 'received', 10), rq('x-done', 'started', 20), rq('x-done', 'succeeded', 30));
    await ingest(enqueued('x-revoked'), rq('x-revoked', 'revoked', 10));
    await ingest(enqueued('x-no-expiry', {}));
    await sweep();
    expect(await task('x-started')).toMatchObject({ state: 'started' });
    expect(await task('x-done')).toMatchObject({ state: 'succeeded' });
    expect(await task('x-revoked')).toMatchObject({ state: 'revoked' });
    expect(await task('x-no-expiry')).toMatchObject({ state: 'enqueued' });
    for (const id of ['x-started', 'x-done', 'x-revoked', 'x-no-expiry']) expect((await timeline(id)).some((e) => e.fields.markedBy)).toBe(false);
  });

  it('lets a worker that ran the task late still show its run', async () => {
    await ingest(enqueued('x-late'));
    await sweep();
    expect(await task('x-late')).toMatchObject({ state: 'expired' });
    await ingest(rq('x-late', 'received', 30_000), rq('x-late', 'started', 30_010));
    expect(await task('x-late')).toEqual({ state: 'started', finished: null });
    await ingest(rq('x-late', 'succeeded', 30_050, { result: 1, runtime: 0.04 }));
    expect(await task('x-late')).toEqual({ state: 'succeeded', finished: T0 + 30_050 });
    expect((await timeline('x-late')).map((e) => e.kind)).toEqual(['enqueued', 'expired', 'received', 'started', 'succeeded']);
  });

  it('marks each task once when replicas sweep at the same time, a few at a time', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `x-many-${i}`);
    await ingest(...ids.map((id) => enqueued(id)));
    const rounds = await Promise.all([0, 1, 2].map(() => sweepExpiredTasks(db, createMetrics(), log, { graceMs: GRACE_MS, now: later, limit: 5 })));
    expect(rounds.reduce((a, b) => a + b, 0)).toBe(12);
    const marks = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_events WHERE task_id LIKE 'x-many-%' AND kind = 'expired'`);
    expect(marks.rows[0]!.n).toBe(12);
  });

  it('finds due tasks through the partial index, not by reading the table', async () => {
    const plan = await db.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off');
      return (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${DUE_SQL}`, [Date.now(), 500])).rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/tasks_expiring/);
  });
});

describe('migrations 0024 and 0026', () => {
  it('gives the tasks waiting before it their expiry from their timeline', async () => {
    const db = await openPglite('memory://');
    try {
      await migrate(db, loadMigrations().filter((m) => m.version < 24));
      const at = (ms: number) => new Date(T0 + ms).toISOString();
      await db.exec(`
        INSERT INTO tasks (id, project_id, engine, task_id, state, attempt_at, state_at, first_seen_at, last_event_at)
        OVERRIDING SYSTEM VALUE VALUES
          (1, 1, 'rq', 'old-waiting', 'enqueued', now(), now(), now(), now()),
          (2, 1, 'rq', 'old-odd', 'enqueued', now(), now(), now(), now()),
          (3, 1, 'rq', 'old-done', 'succeeded', now(), now(), now(), now());
        INSERT INTO task_events (project_id, engine, task_id, task_ref, event_id, kind, occurred_at, fields) VALUES
          (1, 'rq', 'old-waiting', 1, 'a', 'enqueued', now(), '{"expires": "${at(EXPIRES)}"}'),
          (1, 'rq', 'old-odd', 2, 'b', 'enqueued', now(), '{"expires": "soon"}'),
          (1, 'rq', 'old-done', 3, 'c', 'enqueued', now(), '{"expires": "${at(EXPIRES)}"}');`);
      await migrate(db);
      const rows = await db.query<{ task_id: string; ms: number | null }>(`SELECT task_id, round(extract(epoch FROM expires_at) * 1000)::float8 AS ms FROM tasks ORDER BY id`);
      expect(rows.rows).toEqual([{ task_id: 'old-waiting', ms: T0 + EXPIRES }, { task_id: 'old-odd', ms: null }, { task_id: 'old-done', ms: null }]);
      expect((await markExpiredTasks(db, { graceMs: GRACE_MS, now: later })).marked.map((d) => d.row.taskId)).toEqual(['old-waiting']);
    } finally {
      await db.close();
    }
  });
});
