import { pino } from 'pino';
import type { Db } from '../db/db.js';
import { createMetrics } from '../metrics.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import { T0, taskEvent, workerEvent } from '../../test/helpers/envelopes.js';
import { IngestPipeline, type PipelineOptions } from './pipeline.js';

const log = pino({ level: 'silent' });
const OPTS: PipelineOptions = { capacity: 1000, batchSize: 100, flushMs: 5, maxFieldChars: 1000, writers: 1 };

async function taskRow(db: Db, taskId: string) {
  const r = await db.query<Record<string, unknown>>(
    `SELECT state, attempt, retries, worker, name, args, kwargs, exception,
            (extract(epoch FROM started_at) * 1000)::float8 AS started, runtime_ms AS "runtimeMs", wait_ms AS "waitMs"
       FROM tasks WHERE task_id = $1`,
    [taskId],
  );
  return r.rows[0];
}
/** The database with every write transaction `ms` slower: a writer that falls behind. */
const slowDb = (db: Db, ms: number) => ({ ...db, transaction: async <T,>(fn: (tx: never) => Promise<T>) => {
  await new Promise((r) => setTimeout(r, ms));
  return db.transaction(fn as never) as Promise<T>;
} }) as Db;
const count = async (db: Db, sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);

describe.each(STORAGES)('ingest pipeline on %s', (storage) => {
  let db: Db;
  let pipeline: IngestPipeline;
  beforeAll(async () => {
    db = await openTestDb(storage, 'pipeline');
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(() => {
    // Three writer lanes: concurrent transactions must not change any outcome.
    pipeline = new IngestPipeline(db, { ...OPTS, writers: 3 }, createMetrics(), log);
    pipeline.start();
  });
  afterEach(async () => {
    await pipeline.stop();
  });

  it('stores a lifecycle once, however often it is delivered', async () => {
    const events = [
      taskEvent('a1', 'enqueued', 0, { name: 'app.add', queue: 'q1', args: [1, 2], retries: 0 }, { worker: 'producer' }),
      taskEvent('a1', 'received', 10, { retries: 0 }),
      taskEvent('a1', 'started', 20),
      taskEvent('a1', 'succeeded', 70, { result: 3, runtime: 0.05 }),
    ];
    for (let i = 0; i < 3; i++) for (const e of events) await pipeline.offer('test', structuredClone(e));
    await pipeline.drained();
    expect(await count(db, `SELECT count(*) AS n FROM task_events WHERE task_id = 'a1'`)).toBe(4);
    expect(pipeline.totals.duplicates).toBe(8);
    expect(await taskRow(db, 'a1')).toMatchObject({ state: 'succeeded', name: 'app.add', worker: 'w1@host', args: [1, 2], runtimeMs: 50, waitMs: 20 });
    const q = await db.query(`SELECT name FROM queues WHERE name = 'q1'`);
    expect(q.rows).toHaveLength(1);
  });

  it('stores an event once when it is delivered again in a later batch beside new ones', async () => {
    // Idempotency is the writer's (no unique index): redeliveries meet stored events of a task
    // that already has its row, mixed with events it has not seen and with other tasks' events.
    const a = [
      taskEvent('d1', 'received', 0, { name: 'app.dup', retries: 0 }),
      taskEvent('d1', 'started', 10),
      taskEvent('d1', 'succeeded', 30, { result: 1, runtime: 0.02 }),
    ];
    const deliveries = [[a[0]!], [a[0]!, a[1]!, taskEvent('d2', 'received', 5)], [...a, taskEvent('d2', 'started', 6)], [a[1]!, a[2]!]];
    for (const batch of deliveries) {
      for (const e of batch) await pipeline.offer('test', structuredClone(e));
      await pipeline.drained();
    }
    expect(await count(db, `SELECT count(*) AS n FROM task_events WHERE task_id = 'd1'`)).toBe(3);
    expect(await count(db, `SELECT count(*) AS n FROM task_events WHERE task_id = 'd2'`)).toBe(2);
    expect(pipeline.totals.persisted).toBe(5);
    expect(pipeline.totals.duplicates).toBe(5);
    expect(await taskRow(db, 'd1')).toMatchObject({ state: 'succeeded', name: 'app.dup', runtimeMs: 20, waitMs: 10 });
    expect(await taskRow(db, 'd2')).toMatchObject({ state: 'started' });
  });

  it('stores text with tabs, line breaks and backslashes exactly (COPY escaping on PostgreSQL)', async () => {
    const odd = 'a\tb\nc\r\\d \\N \\t';
    const fields = { name: 'app.odd', args: [odd, { [odd]: odd }], exception: odd };
    await pipeline.offer('test', taskEvent(`x${odd}`, 'failed', 0, fields, { id: `id${odd}`, worker: `w${odd}` }));
    await pipeline.drained();
    const rows = await db.query(`SELECT task_id, event_id, worker, fields FROM task_events WHERE kind = 'failed' AND fields->>'name' = 'app.odd'`);
    expect(rows.rows).toEqual([{ task_id: `x${odd}`, event_id: `id${odd}`, worker: `w${odd}`, fields }]);
    // The task row too (staged by COPY on PostgreSQL): text and JSON columns exact, absent ones null.
    const task = await db.query(`SELECT task_id, name, worker, args, exception, kwargs, result, runtime_ms FROM tasks WHERE task_id = $1`, [`x${odd}`]);
    expect(task.rows).toEqual([{ task_id: `x${odd}`, name: 'app.odd', worker: `w${odd}`, args: fields.args, exception: odd, kwargs: null, result: null, runtime_ms: null }]);
  });

  it('stores a sealed payload with its event, the first one for a task, none for a refused event', async () => {
    await pipeline.offer('test', taskEvent('p1', 'enqueued', 0, { name: 'app.pay' }), undefined, Buffer.from('first'));
    await pipeline.drained();
    await pipeline.offer('test', taskEvent('p1', 'enqueued', 0, { name: 'app.pay' }, { id: 'p1-again' }), undefined, Buffer.from('second'));
    await pipeline.offer('test', { ...taskEvent('p2', 'enqueued', 0), engine: 'nope' }, undefined, Buffer.from('refused'));
    await pipeline.drained();
    const rows = await db.query<{ task_id: string; sealed: Buffer }>(`SELECT task_id, sealed_payload AS sealed FROM tasks WHERE task_id IN ('p1', 'p2') AND sealed_payload IS NOT NULL`);
    expect(rows.rows.map((r) => [r.task_id, Buffer.from(r.sealed).toString()])).toEqual([['p1', 'first']]);
  });

  it('stores a payload that comes after its task already had a row', async () => {
    await pipeline.offer('test', taskEvent('p3', 'received', 0, { name: 'app.pay' }));
    await pipeline.drained();
    await pipeline.offer('test', taskEvent('p3', 'enqueued', 0, { name: 'app.pay' }), undefined, Buffer.from('late'));
    await pipeline.drained();
    const rows = await db.query<{ sealed: Buffer; state: string }>(`SELECT sealed_payload AS sealed, state FROM tasks WHERE task_id = 'p3'`);
    expect(rows.rows.map((r) => [Buffer.from(r.sealed).toString(), r.state])).toEqual([['late', 'received']]);
  });

  it('stores an event time with a fraction of a millisecond, to the millisecond', async () => {
    await pipeline.offer('test', taskEvent('frac', 'received', 0, {}, { occurredAt: Date.UTC(2026, 10, 29, 12, 0, 59, 999) + 0.6 }));
    await pipeline.offer('test', taskEvent('frac', 'started', 0, {}, { occurredAt: Date.UTC(2026, 10, 29, 12, 0, 1, 5) + 0.2 }));
    await pipeline.drained();
    const rows = await db.query<{ at: Date }>(`SELECT occurred_at AS at FROM task_events WHERE task_id = 'frac' ORDER BY occurred_at`);
    expect(rows.rows.map((r) => new Date(r.at).toISOString())).toEqual(['2026-11-29T12:00:01.005Z', '2026-11-29T12:01:00.000Z']);
  });

  it('folds late events from an earlier batch into the right attempt', async () => {
    // The second attempt's outcome arrives first; the first attempt's events trickle in after.
    await pipeline.offer('test', taskEvent('r1', 'received', 250, { retries: 1 }));
    await pipeline.offer('test', taskEvent('r1', 'succeeded', 300, { result: 'ok' }));
    await pipeline.drained();
    for (const e of [taskEvent('r1', 'received', 0, { retries: 0 }), taskEvent('r1', 'started', 5), taskEvent('r1', 'retried', 20, { exception: 'boom' }), taskEvent('r1', 'started', 260)]) {
      await pipeline.offer('test', e);
      await pipeline.drained();
    }
    expect(await taskRow(db, 'r1')).toMatchObject({ state: 'succeeded', attempt: 1, retries: 1, started: T0 + 260, exception: 'boom' });
  });

  it('folds many interleaved tasks correctly across concurrent writers', async () => {
    const events = [];
    for (let i = 0; i < 300; i++) {
      events.push(taskEvent(`m${i}`, 'received', i, { retries: 0 }), taskEvent(`m${i}`, 'started', i + 1), taskEvent(`m${i}`, i % 5 ? 'succeeded' : 'failed', i + 2));
    }
    events.sort(() => Math.random() - 0.5);
    await Promise.all(events.map((e) => pipeline.offer('test', e)));
    await pipeline.drained();
    const rows = (await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM tasks WHERE task_id LIKE 'm%' GROUP BY state ORDER BY state`)).rows;
    expect(rows).toEqual([{ state: 'failed', n: 60 }, { state: 'succeeded', n: 240 }]);
  });

  it('keeps worker heartbeats moving forward only', async () => {
    await pipeline.offer('test', workerEvent('w9@host', 'worker-online', 0, { freq: 2 }));
    await pipeline.offer('test', workerEvent('w9@host', 'worker-heartbeat', 4000, { active: 3, processed: 10 }));
    await pipeline.drained();
    await pipeline.offer('test', workerEvent('w9@host', 'worker-heartbeat', 2000, { active: 1, processed: 5 })); // late
    await pipeline.drained();
    const w = (await db.query<Record<string, unknown>>(`SELECT online, active, processed::int AS processed, heartbeat_s FROM workers WHERE hostname = 'w9@host'`)).rows[0];
    expect(w).toEqual({ online: true, active: 3, processed: 10, heartbeat_s: 2 });
  });

  it('is not frozen by one heartbeat from a clock far ahead: a later heartbeat and the goodbye still count', async () => {
    const now = Date.now() - T0;
    await pipeline.offer('test', workerEvent('w10@host', 'worker-online', now, { freq: 2 }));
    await pipeline.offer('test', workerEvent('w10@host', 'worker-heartbeat', now + 3_600_000, { active: 9 })); // a clock an hour ahead
    await pipeline.drained();
    await new Promise((r) => setTimeout(r, 20));
    await pipeline.offer('test', workerEvent('w10@host', 'worker-heartbeat', Date.now() - T0, { active: 2 }));
    await pipeline.drained();
    await new Promise((r) => setTimeout(r, 20));
    await pipeline.offer('test', workerEvent('w10@host', 'worker-offline', Date.now() - T0));
    await pipeline.drained();
    const w = (await db.query<Record<string, unknown>>(`SELECT online, active, last_seen_at <= now() AS "notAhead" FROM workers WHERE hostname = 'w10@host'`)).rows[0];
    expect(w).toEqual({ online: false, active: 2, notAhead: true });
  });

  it('stores an event from a clock far ahead at its receipt, so that it holds neither its task nor its order', async () => {
    const metrics = createMetrics();
    const clocked = new IngestPipeline(db, OPTS, metrics, log);
    clocked.start();
    try {
      const now = Date.now();
      const ahead = taskEvent('skew1', 'enqueued', 0, { name: 'app.skew', retries: 0 }, { occurredAt: now + 3_600_000, worker: undefined }); // a producer's clock an hour ahead
      await clocked.offer('test', ahead);
      await clocked.drained();
      const received = Date.now();
      await clocked.offer('test', taskEvent('skew1', 'received', 0, { retries: 0 }, { occurredAt: received + 50 }));
      await clocked.offer('test', taskEvent('skew1', 'started', 0, {}, { occurredAt: received + 60 }));
      await clocked.drained();
      const row = (await db.query<{ state: string; sent: number; last: number; waitMs: number }>(
        `SELECT state, round(extract(epoch FROM sent_at) * 1000)::float8 AS sent, round(extract(epoch FROM last_event_at) * 1000)::float8 AS last, wait_ms AS "waitMs"
           FROM tasks WHERE task_id = 'skew1'`,
      )).rows[0]!;
      expect(row.state).toBe('started');
      expect(row.last).toBe(received + 60); // not an hour ahead: later events fold on, in order
      expect(row.sent).toBeGreaterThanOrEqual(now);
      expect(row.sent).toBeLessThanOrEqual(received);
      expect(row.waitMs).toBe(received + 60 - row.sent);
      // What the clock said is kept beside what is stored.
      const stored = (await db.query<{ at: number; fields: Record<string, unknown> }>(
        `SELECT round(extract(epoch FROM occurred_at) * 1000)::float8 AS at, fields FROM task_events WHERE task_id = 'skew1' AND kind = 'enqueued'`,
      )).rows[0]!;
      expect(stored.at).toBe(row.sent);
      expect(stored.at + (stored.fields.clockSkewMs as number)).toBe(now + 3_600_000);
      expect(await metrics.registry.metrics()).toMatch(/z4j_ingest_events_clock_ahead_total\{source="test"\} 1\n/);
    } finally {
      await clocked.stop();
    }
  });

  it('keeps the time of an event a little ahead (clocks differ by a few seconds)', async () => {
    const at = Date.now() + 30_000;
    await pipeline.offer('test', taskEvent('skew2', 'received', 0, { retries: 0 }, { occurredAt: at }));
    await pipeline.drained();
    const stored = (await db.query<{ at: number; fields: Record<string, unknown> }>(
      `SELECT round(extract(epoch FROM occurred_at) * 1000)::float8 AS at, fields FROM task_events WHERE task_id = 'skew2'`,
    )).rows[0]!;
    expect(stored).toEqual({ at, fields: { retries: 0 } });
  });

  it('counts every event received, written or refused, by the time metrics are scraped', async () => {
    const metrics = createMetrics();
    const counted = new IngestPipeline(db, OPTS, metrics, log); // not started: nothing is written yet
    await counted.offer('scraped', taskEvent('c1', 'received', 0));
    await counted.offer('scraped', { v: 1, type: 'task', kind: 'exploded' });
    expect(await metrics.registry.metrics()).toMatch(/z4j_ingest_events_received_total\{source="scraped"\} 2\n/);
    await counted.offer('scraped', 'junk');
    expect(await metrics.registry.metrics()).toMatch(/z4j_ingest_events_received_total\{source="scraped"\} 3\n/);
  });

  it('refuses malformed events with a counted reason and keeps a sample', async () => {
    const before = await count(db, 'SELECT count(*) AS n FROM ingest_rejects');
    await pipeline.offer('test', { v: 1, type: 'task', kind: 'exploded' });
    await pipeline.offer('test', 'not even an object');
    await pipeline.offer('test', taskEvent('ok1', 'received', 0));
    await pipeline.drained();
    await pipeline.stop();
    expect(pipeline.totals.invalid).toBe(2);
    expect(await count(db, `SELECT count(*) AS n FROM tasks WHERE task_id = 'ok1'`)).toBe(1);
    expect(await count(db, 'SELECT count(*) AS n FROM ingest_rejects')).toBe(before + 2);
  });

  it('keeps one sample of an event every replica refused (a Celery Redis source is read by each)', async () => {
    const replicas = [1, 2].map(() => new IngestPipeline(db, OPTS, createMetrics(), log));
    const refused = { v: 1, type: 'task', kind: 'exploded', id: `twice-${storage}` };
    for (const replica of replicas) {
      replica.start();
      await replica.offer('celery-redis-1', refused);
      await replica.offer('celery-redis-1', { ...refused, id: `once-${storage}` }); // another event: its own sample
    }
    for (const replica of replicas) await replica.stop();
    expect(replicas.map((r) => r.totals.invalid)).toEqual([2, 2]); // each replica's count is of what it read
    const kept = await count(db, `SELECT count(*) AS n FROM ingest_rejects WHERE source = 'celery-redis-1' AND sample LIKE '%-${storage}%'`);
    expect(kept).toBe(2);
  });

  it('redacts secrets and strips what Postgres cannot store before writing', async () => {
    await pipeline.offer('test', taskEvent('s1', 'received', 0, { args: "('user', 'password=hunter2')", kwargs: { api_key: 'AKIAABCDEFGHIJKLMNOP', note: 'nul\u0000 and lone \ud800 surrogate' } }));
    await pipeline.drained();
    const row = await taskRow(db, 's1');
    expect(JSON.stringify(row)).not.toMatch(/hunter2|AKIAABCDEFGHIJKLMNOP/);
    expect(row!.kwargs).toEqual({ api_key: '[redacted]', note: 'nul\ufffd and lone \ufffd surrogate' });
  });

  it('redacts fields named like secrets, not only nested keys', async () => {
    await pipeline.offer('test', taskEvent('s2', 'received', 0, { password: 'correcthorsebattery', db_password: 'hunter2hunter2', pin: 1234, apiToken: { v: 'x' } }));
    await pipeline.drained();
    const fields = (await db.query<{ fields: Record<string, unknown> }>(
      `SELECT fields FROM task_events WHERE task_id = 's2'`,
    )).rows[0]!.fields;
    expect(fields).toMatchObject({ password: '[redacted]', db_password: '[redacted]', pin: '[redacted]', apiToken: '[redacted]' });
    expect(JSON.stringify(fields)).not.toMatch(/correcthorse|hunter2|1234/);
  });
});

describe('ingest pipeline failure paths (PGlite)', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb('pglite', 'failures');
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A Db whose transactions fail the way `failWith` decides, before touching the real one. */
  function faulty(failWith: (calls: number) => { code: string } | null): Db {
    let calls = 0;
    return { ...db, transaction: async (fn) => {
      const err = failWith(++calls);
      if (err) throw Object.assign(new Error(`injected ${err.code}`), err);
      return db.transaction(fn);
    } };
  }

  type Write = (batch: { id: string }[]) => Promise<unknown>;
  /** Puts `around` in front of the pipeline's writer: it sees each batch and may call the real write. */
  function aroundWrites(pipeline: IngestPipeline, around: (batch: { id: string }[], write: Write) => Promise<unknown>): void {
    const writer = (pipeline as unknown as { writer: { write: Write } }).writer;
    const write = writer.write.bind(writer);
    writer.write = (batch) => around(batch, write);
  }

  /** Offers 40 events, the `at`-th of task `poison`, the others of `${prefix}${i}`; returns the task ids acknowledged. */
  async function offerWithPoison(pipeline: IngestPipeline, at: number, poison: string, prefix: string): Promise<string[]> {
    const acked: string[] = [];
    for (let i = 0; i < 40; i++) {
      const ev = taskEvent(i === at ? poison : `${prefix}${i}`, 'received', i);
      await pipeline.offer('test', ev, () => acked.push(ev.taskId));
    }
    return acked;
  }

  it('retries a batch after a transient failure and loses nothing', async () => {
    const pipeline = new IngestPipeline(faulty((n) => (n <= 2 ? { code: '08006' } : null)), OPTS, createMetrics(), log);
    pipeline.start();
    for (let i = 0; i < 50; i++) await pipeline.offer('test', taskEvent(`tr${i}`, 'received', i));
    await pipeline.drained();
    await pipeline.stop();
    expect(pipeline.totals.persisted).toBe(50);
  });

  it('isolates the one event the database refuses and writes the others', async () => {
    // The injected data error fires whenever the poisoned event is in the batch being written.
    let poisonInBatch = false;
    const inner = faulty(() => (poisonInBatch ? { code: '22P02' } : null));
    const pipeline = new IngestPipeline(inner, OPTS, createMetrics(), log);
    aroundWrites(pipeline, (batch, write) => {
      poisonInBatch = batch.some((e) => e.id.includes('poison'));
      return write(batch);
    });
    pipeline.start();
    const acked = await offerWithPoison(pipeline, 17, 'poison', 'bi');
    await pipeline.drained();
    await pipeline.stop();
    expect(pipeline.totals.persisted).toBe(39);
    expect(pipeline.totals.invalid).toBe(1);
    expect(acked).toHaveLength(40); // the refused one is set aside, not redelivered forever
    expect(await count(db, `SELECT count(*) AS n FROM tasks WHERE task_id LIKE 'bi%'`)).toBe(39);
  });

  it('sets aside an event that makes the writer fail with no database error, while the database answers', async () => {
    // A JavaScript error building the batch's statements looks like a network error (no
    // SQLSTATE); retried forever, it would stop its lane for good.
    const pipeline = new IngestPipeline(db, OPTS, createMetrics(), log);
    aroundWrites(pipeline, (batch, write) => (batch.some((e) => e.id.includes('js-poison')) ? Promise.reject(new RangeError('Invalid string length')) : write(batch)));
    pipeline.start();
    const acked = await offerWithPoison(pipeline, 23, 'js-poison', 'js');
    await pipeline.drained();
    await pipeline.stop();
    expect([pipeline.totals.persisted, pipeline.totals.invalid, acked.length]).toEqual([39, 1, 40]);
    expect(await count(db, `SELECT count(*) AS n FROM tasks WHERE task_id LIKE 'js%' AND task_id <> 'js-poison'`)).toBe(39);
  });

  it('holds ingest instead of setting every event aside when every write fails with no database error (a fault of its own)', async () => {
    const pipeline = new IngestPipeline(db, OPTS, createMetrics(), log);
    aroundWrites(pipeline, () => Promise.reject(new TypeError('a bug in the writer')));
    pipeline.start();
    for (let i = 0; i < 60; i++) await pipeline.offer('test', taskEvent(`bug${i}`, 'received', i));
    // Set aside one by one until the count in a row shows the fault is not the events'.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => pipeline.totals.invalid >= 20 && (clearInterval(poll), resolve()), 20);
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect([pipeline.totals.invalid, pipeline.totals.persisted]).toEqual([20, 0]);
    await pipeline.stop();
  }, 20_000);

  it('makes waiting sources wait and lossy sources drop when full', async () => {
    const pipeline = new IngestPipeline(slowDb(db, 50), { ...OPTS, capacity: 100, batchSize: 10 }, createMetrics(), log);
    pipeline.start();
    let accepted = 0;
    for (let i = 0; i < 300; i++) if (pipeline.tryOffer('lossy', taskEvent(`bp${i}`, 'received', i))) accepted++;
    expect(pipeline.totals.dropped).toBe(300 - accepted);
    expect(pipeline.size).toBeLessThanOrEqual(100);
    const waits = Array.from({ length: 150 }, (_, i) => pipeline.offer('paced', taskEvent(`pw${i}`, 'received', i)));
    expect(pipeline.size).toBeLessThanOrEqual(100);
    await Promise.all(waits);
    await pipeline.drained();
    await pipeline.stop();
    expect(pipeline.totals.persisted).toBe(accepted + 150);
  });

  it('offers unhurried events (a purge\'s) without ever filling the queue, so a lossy source beside them loses nothing', async () => {
    const pipeline = new IngestPipeline(slowDb(db, 20), { ...OPTS, capacity: 100, batchSize: 10 }, createMetrics(), log);
    pipeline.start();
    const unhurried = pipeline.offerUnhurried('purge', Array.from({ length: 300 }, (_, i) => taskEvent(`un${i}`, 'revoked', i)));
    let lossyAccepted = 0;
    let largest = 0;
    for (let i = 0; i < 60; i++) {
      largest = Math.max(largest, pipeline.size);
      if (pipeline.tryOffer('lossy', taskEvent(`ls${i}`, 'received', i))) lossyAccepted++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await unhurried;
    await pipeline.drained();
    await pipeline.stop();
    // Half the queue and one slice (a quarter) at most, plus what the lossy source added.
    expect(largest).toBeLessThanOrEqual(75 + 60);
    expect([lossyAccepted, pipeline.totals.dropped, pipeline.totals.persisted]).toEqual([60, 0, 360]);
  });
});

describe('how much a broker source holds in flight', () => {
  it('is the queue plus a batch per writer', () => {
    const defaults = { capacity: 10_000, batchSize: 2000, writers: 3, flushMs: 50, maxFieldChars: 1000 };
    expect(new IngestPipeline({} as Db, defaults, createMetrics(), log).inFlightCapacity).toBe(16_000);
  });
});
