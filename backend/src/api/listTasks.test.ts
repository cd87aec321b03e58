import request from 'supertest';
import type { Db } from '../db/db.js';
import { BatchWriter } from '../ingest/batchWriter.js';
import { ENGINES, TASK_KINDS, type TaskEnvelope } from '../ingest/envelope.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';

const N = 3000;
const NAMES = ['app.add', 'app.mul', 'reports.build', 'mail.send_welcome'];
const QUEUES = ['default', 'high', 'low'];
const WORKERS = ['w1@a', 'w2@b', 'w3@c'];
const START = Date.UTC(2026, 10, 20);

/** Deterministic pseudo-random so a failure reproduces. */
function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function seedEvents(): TaskEnvelope[] {
  const r = rng(42);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: N }, (_, i) => {
    const kind = pick(TASK_KINDS.filter((k) => k !== 'enqueued'));
    return {
      v: 1, type: 'task', id: `seed-${i}`, engine: pick(ENGINES), project: 'default', kind,
      taskId: `task-${String(i).padStart(5, '0')}`,
      // Several tasks share a timestamp: pagination must still be exact.
      occurredAt: START + Math.floor(i / 3) * 1000,
      worker: pick(WORKERS),
      fields: { name: pick(NAMES), queue: pick(QUEUES), args: i % 10 === 0 ? [`order-${i}`, 100_000 + i] : [i] },
    } satisfies TaskEnvelope;
  });
}

interface Row { taskId: string; engine: string; state: string; name: string; queue: string; worker: string; firstSeenAt: string; args: unknown }

describe.each(STORAGES)('listing tasks on %s', (storage) => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];
  let all: Row[];

  beforeAll(async () => {
    db = await openTestDb(storage, 'list');
    const events = seedEvents();
    const writer = new BatchWriter(db);
    for (let i = 0; i < events.length; i += 1000) await writer.write(events.slice(i, i + 1000));
    app = testApp(db).app;
    all = (await db.query<Row>(
      `SELECT task_id AS "taskId", engine, state, name, queue, worker, first_seen_at AS "firstSeenAt", args FROM tasks ORDER BY first_seen_at DESC, id DESC`,
    )).rows;
    expect(all).toHaveLength(N);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  /** Every page of a query, following nextCursor. */
  async function pages(query: Record<string, string>): Promise<Row[]> {
    const out: Row[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 1000; guard++) {
      const res = await request(app).get('/api/tasks').set(authHeaders()).query({ ...query, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      out.push(...res.body.tasks);
      cursor = res.body.nextCursor;
      if (!cursor) return out;
    }
    throw new Error('pagination did not end');
  }

  const ids = (rows: Row[]) => rows.map((r) => r.taskId);

  it.each<[string, Record<string, string>, (r: Row) => boolean]>([
    ['no filter', {}, () => true],
    ['one engine', { engine: 'rq' }, (r) => r.engine === 'rq'],
    ['two states', { state: 'failed,retried' }, (r) => r.state === 'failed' || r.state === 'retried'],
    ['name and queue', { name: 'app.add', queue: 'high' }, (r) => r.name === 'app.add' && r.queue === 'high'],
    ['worker and engine', { worker: 'w2@b', engine: 'celery,arq' }, (r) => r.worker === 'w2@b' && ['celery', 'arq'].includes(r.engine)],
    [
      'a time range',
      { from: new Date(START + 200_000).toISOString(), to: String(START + 600_000) },
      (r) => Date.parse(r.firstSeenAt) >= START + 200_000 && Date.parse(r.firstSeenAt) < START + 600_000,
    ],
    ['free text over args', { q: 'ORDER-1' }, (r) => JSON.stringify(r.args).toLowerCase().includes('order-1')],
    ['free text over ids', { q: 'task-0012' }, (r) => r.taskId.includes('task-0012')],
    ['everything at once', { engine: 'celery,rq,huey', state: 'succeeded,failed', queue: 'default', q: 'app.' }, (r) =>
      ['celery', 'rq', 'huey'].includes(r.engine) && ['succeeded', 'failed'].includes(r.state) && r.queue === 'default' && r.name.startsWith('app.')],
  ])('returns exactly the matching tasks, page by page: %s', async (_label, query, keep) => {
    const expected = ids(all.filter(keep));
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(await pages({ ...query, limit: '97' }))).toEqual(expected);
  });

  it('returns the newest first with the requested page size', async () => {
    const res = await request(app).get('/api/tasks').set(authHeaders()).query({ limit: '5' });
    expect(ids(res.body.tasks)).toEqual(ids(all.slice(0, 5)));
    expect(res.body.nextCursor).toEqual(expect.any(String));
  });

  it.each([
    ['an unknown state', { state: 'exploded' }],
    ['an unknown engine', { engine: 'sidekiq' }],
    ['a limit too large', { limit: '100000' }],
    ['a forged cursor', { cursor: 'bm90IGEgY3Vyc29y' }],
    ['a date that is not one', { from: 'yesterday' }],
    ['a repeated parameter', { name: ['a', 'b'] }],
    ['an unknown (misspelt) filter', { State: 'failed' }],
    ['a NUL in a filter', { q: 'a\u0000b' }],
    ['an epoch past year 9999', { from: '9999999999999999' }],
    ['a year PostgreSQL has not', { to: '0000-01-01T00:00:00Z' }],
    ['a cursor with a day that does not exist', { cursor: Buffer.from(JSON.stringify(['2024-02-30T10:00:00.000000Z', '5'])).toString('base64url') }],
    ['a cursor with an id past bigint', { cursor: Buffer.from(JSON.stringify(['2024-02-03T10:00:00.000000Z', '9999999999999999999'])).toString('base64url') }],
  ])('refuses %s with 400 and a code', async (_label, query) => {
    const res = await request(app).get('/api/tasks').set(authHeaders()).query(query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toMatch(/^BAD_/);
  });

  it('refuses a bulk action whose filters name an unknown field, instead of widening it to every task', async () => {
    const audited = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`)).rows[0]!.n;
    const before = await audited();
    const res = await request(app).post('/api/bulk/preview').set(authHeaders('operator')).send({ action: 'cancel', filters: { State: 'failed' } });
    expect([res.status, res.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect(res.body.error.message).toMatch(/State/);
    // A preview only reads (readOnly in routes.ts): its refusal is not a refused write in the audit chain.
    expect(await audited()).toBe(before);
  });

  it('refuses text PostgreSQL cannot store in paths and bodies with 400, never 500', async () => {
    expect((await request(app).get('/api/tasks/celery/ab%00cd').set(authHeaders())).status).toBe(400);
    expect((await request(app).get('/api/task-names').set(authHeaders()).query({ prefix: 'x\u0000' })).status).toBe(400);
    const body = await request(app).patch('/api/projects/default').set(authHeaders('admin')).set('content-type', 'application/json').send('{"name":"a\\ud800b"}');
    expect([body.status, body.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    const key = await request(app).put('/api/role-rules').set(authHeaders('admin')).send({ ['k\u0000']: 1 });
    expect(key.status).toBe(400);
  });

  it.each(["' OR 1=1 --", "'; DROP TABLE tasks; --", '%', '%_%', '\\', "app.add' UNION SELECT * FROM projects --"])(
    'treats the injection string %s as plain text in every filter',
    async (evil) => {
      for (const key of ['name', 'queue', 'worker', 'q']) {
        const res = await request(app).get('/api/tasks').set(authHeaders()).query({ [key]: evil });
        expect(res.status).toBe(200);
        expect(res.body.tasks).toEqual([]);
      }
      expect((await db.query('SELECT count(*)::int AS n FROM tasks')).rows[0]).toEqual({ n: N });
    },
  );

  it('shows one task with its timeline, and 404 for an unknown one', async () => {
    const t = all[10]!;
    const res = await request(app).get(`/api/tasks/${t.engine}/${t.taskId}`).set(authHeaders());
    expect(res.status).toBe(200);
    expect(res.body.task.taskId).toBe(t.taskId);
    expect(res.body.events).toHaveLength(1);
    const missing = await request(app).get(`/api/tasks/${t.engine}/nope`).set(authHeaders());
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('TASK_NOT_FOUND');
    expect((await request(app).get('/api/tasks?project=nope').set(authHeaders())).body.error.code).toBe('PROJECT_NOT_FOUND');
  });

  it('finds free text as it was written: quotes, backslashes and tabs in arguments, any letter case', async () => {
    const args = ['C:\\temp\\report.csv', 'say "hi"', 'ΟΔΟΣ', 'tab\there'];
    await new BatchWriter(db).write([{
      v: 1, type: 'task', id: 'text-1', engine: 'rq', project: 'default', kind: 'started', taskId: 'text-task',
      occurredAt: START - 1000, worker: 'w1@a', fields: { name: 'text.task', args },
    }]);
    try {
      for (const q of ['C:\\temp', 'say "hi"', 'ΟΔΟΣ', 'tab\there', 'REPORT.CSV']) {
        const res = await request(app).get('/api/tasks').set(authHeaders()).query({ q });
        expect([q, res.body.tasks?.map((t: Row) => t.taskId)]).toEqual([q, ['text-task']]);
      }
    } finally {
      await db.query(`DELETE FROM task_events WHERE task_row IN (SELECT id FROM tasks WHERE task_id = 'text-task')`).catch(() => undefined);
      await db.query(`DELETE FROM tasks WHERE task_id = 'text-task'`);
    }
  });

  it("shows events of one moment in the order of an attempt, whatever their ids", async () => {
    // An enqueue z4j records for a retry and the worker's receipt can share a millisecond; the
    // receipt's id sorts first.
    const at = START - 5000;
    const ev = (id: string, kind: 'enqueued' | 'received' | 'started', dt = 0) =>
      ({ v: 1, type: 'task', id, engine: 'rq', project: 'default', kind, taskId: 'same-moment', occurredAt: at + dt, worker: 'w1@a', fields: { name: 'a.task' } }) as TaskEnvelope;
    await new BatchWriter(db).write([ev('a-started', 'started', 1), ev('b-received', 'received'), ev('c-enqueued', 'enqueued')]);
    const res = await request(app).get('/api/tasks/rq/same-moment').set(authHeaders());
    expect(res.body.events.map((e: { kind: string }) => e.kind)).toEqual(['enqueued', 'received', 'started']);
  });
});
