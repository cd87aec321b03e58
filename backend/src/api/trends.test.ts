import request from 'supertest';
import type { Db } from '../db/db.js';
import { BatchWriter } from '../ingest/batchWriter.js';
import type { TaskEnvelope } from '../ingest/envelope.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, userHeaders } from '../../test/helpers/auth.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';

const MIN = 60_000;
const START = Date.UTC(2026, 10, 20, 12, 0); // on a minute: the buckets start on the epoch's minutes

/** One finished task, first seen (and finished) at `at`, with its runtime in seconds. */
const task = (n: number, at: number, kind: 'succeeded' | 'failed', fields: Record<string, unknown>): TaskEnvelope => ({
  v: 1, type: 'task', id: `ev-${n}`, engine: (fields.engine as 'celery') ?? 'celery', project: 'default', kind,
  taskId: `task-${n}`, occurredAt: at, worker: 'w1@a', fields: { name: 'app.a', queue: 'q1', ...fields, engine: undefined },
});

// Minute 0: six successes (0.1–0.6 s) and four failures (1 s) of app.a / app.b on q1.
// Minute 1: nothing. Minute 2: three RQ successes of app.c without a queue, at 2 s.
const EVENTS: TaskEnvelope[] = [
  ...[1, 2, 3, 4, 5, 6].map((i) => task(i, START + i * 1000, 'succeeded', { name: i % 2 ? 'app.a' : 'app.b', runtime: i / 10 })),
  ...[7, 8, 9, 10].map((i) => task(i, START + i * 1000, 'failed', { runtime: 1 })),
  ...[11, 12, 13].map((i) => task(i, START + 2 * MIN + i * 1000, 'succeeded', { engine: 'rq', name: 'app.c', queue: undefined, runtime: 2 })),
];

describe.each(STORAGES)('trends on %s', (storage) => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];

  beforeAll(async () => {
    db = await openTestDb(storage, 'trends');
    await new BatchWriter(db).write(EVENTS);
    app = testApp(db).app;
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const get = (query: Record<string, string | number>, headers = authHeaders('viewer')) =>
    request(app).get('/api/trends').query({ from: START, to: START + 3 * MIN, ...query }).set(headers);
  const values = (series: { points: [number, number | null][] }) => series.points.map(([, v]) => v);

  test('counts the tasks first seen in each bucket, 0 where none was', async () => {
    const res = await get({});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ intervalMs: MIN, metric: 'count', stat: null, truncated: false });
    expect(res.body.series).toHaveLength(1);
    expect(res.body.series[0].labels).toEqual({});
    expect(res.body.series[0].points).toEqual([[START, 10], [START + MIN, 0], [START + 2 * MIN, 3]]);
  });

  test('one series per group, the most tasks first; a task without the column is ""', async () => {
    const byState = await get({ groupBy: 'state' });
    expect(byState.body.series.map((s: { labels: unknown }) => s.labels)).toEqual([{ state: 'succeeded' }, { state: 'failed' }]);
    expect(byState.body.series.map(values)).toEqual([[6, 0, 3], [4, 0, 0]]);

    const byQueue = await get({ groupBy: 'queue' });
    expect(byQueue.body.series.map((s: { labels: unknown }) => s.labels)).toEqual([{ queue: 'q1' }, { queue: '' }]);
    expect(byQueue.body.series.map(values)).toEqual([[10, 0, 0], [0, 0, 3]]);
  });

  test('limit keeps the largest groups and says that others were left out', async () => {
    const res = await get({ groupBy: 'name', limit: 2 });
    expect(res.body.truncated).toBe(true);
    expect(res.body.series.map((s: { labels: { name: string } }) => s.labels.name)).toEqual(['app.a', 'app.b']); // 7 and 3 tasks; app.c has 3 too, after app.b by name
    expect((await get({ groupBy: 'name', limit: 3 })).body.truncated).toBe(false);
  });

  test('takes the explorer filters', async () => {
    expect(values((await get({ state: 'failed' })).body.series[0])).toEqual([4, 0, 0]);
    expect(values((await get({ engine: 'rq' })).body.series[0])).toEqual([0, 0, 3]);
    expect(values((await get({ name: 'app.b', queue: 'q1' })).body.series[0])).toEqual([3, 0, 0]);
    expect((await get({ groupBy: 'state', name: 'nothing.by.this.name' })).body.series).toEqual([]);
  });

  test('runtime statistics in ms, null where nothing ran', async () => {
    // Minute 0's runtimes: 100, 200, …, 600 and four of 1000.
    const p50 = await get({ metric: 'runtime', stat: 'p50' });
    expect(p50.body).toMatchObject({ metric: 'runtime', stat: 'p50' });
    expect(values(p50.body.series[0])).toEqual([550, null, 2000]);
    expect(values((await get({ metric: 'runtime', stat: 'max' })).body.series[0])).toEqual([1000, null, 2000]);
    expect(values((await get({ metric: 'runtime', stat: 'avg' })).body.series[0])).toEqual([610, null, 2000]);
    expect((await get({ metric: 'runtime' })).body.stat).toBe('p95');
  });

  test('widens the bucket to fit maxPoints, and aligns buckets on the epoch', async () => {
    const wide = await get({ intervalMs: 1000, maxPoints: 3 });
    expect(wide.body.intervalMs).toBe(MIN);
    expect(values(wide.body.series[0])).toEqual([10, 0, 3]);
    // Never more buckets than maxPoints, though a range that starts inside a bucket touches one more than it spans.
    for (const [from, to, maxPoints] of [[START + 5_500, START + 3 * MIN, 3], [START + 5_500, START + 16 * MIN, 5], [START + 5_500, START + 16 * MIN, 1], [START, START + 3 * MIN, 2]]) {
      const r = await get({ from: from!, to: to!, intervalMs: 1000, maxPoints: maxPoints! });
      expect([from, to, maxPoints, r.body.series[0].points.length <= maxPoints!]).toEqual([from, to, maxPoints, true]);
      expect(r.body.series[0].points.reduce((n: number, [, v]: [number, number]) => n + v, 0)).toBe(EVENTS.filter((e) => e.occurredAt >= from! && e.occurredAt < to!).length);
    }

    // A range that starts inside a bucket: the bucket starts on the minute, and counts only what is in the range.
    const shifted = await get({ from: START + 5_500, to: START + 2 * MIN });
    expect(shifted.body.series[0].points).toEqual([[START, 5], [START + MIN, 0]]);
  });

  test('refuses what it cannot answer, naming the parameter', async () => {
    const cases: [Record<string, string | number>, RegExp][] = [
      [{ to: START }, /^to: must be after from/],
      [{ metric: 'count', stat: 'p95' }, /^stat: only for metric runtime or wait/],
      [{ metric: 'memory' }, /^metric: /],
      [{ groupBy: 'args' }, /^groupBy: /],
      [{ intervalMs: 10 }, /^intervalMs: /],
      [{ maxPoints: 5000 }, /^maxPoints: /],
      [{ bucket: '1m' }, /"bucket"/],
    ];
    for (const [query, message] of cases) {
      const res = await get(query);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.body.error.message).toMatch(message);
    }
    const noRange = await request(app).get('/api/trends').set(authHeaders('viewer'));
    expect(noRange.status).toBe(400);
    expect(noRange.body.error.message).toBe('from: required');
    const badTime = await get({ from: 'yesterday' });
    expect(badTime.body.error.message).toBe('from: a time as ISO 8601 (2026-12-07T12:00:00Z) or epoch milliseconds');
  });

  test('needs a role in the project', async () => {
    const outsider = userHeaders({ UserID: 199, Login: 'nina', OrgID: 1, OrgRole: 'None' });
    const res = await get({}, outsider);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('ROLE_TOO_LOW');
  });
});
