// The scheduler against a database and a fake driver, on a clock the test sets: a due schedule
// fires once and moves on, a disabled one never does, a long gap fires once and counts the rest,
// a failed send leaves a failed run, a schedule whose times cannot be computed is disabled
// without holding the others back, and two schedulers on one database fire each due time once.
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { ActionService } from '../actions/actionService.js';
import { DbPayloadStore } from '../actions/payloads.js';
import { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import type { EngineDriver, RetryPayload } from '../engines/driver.js';
import { createMetrics } from '../metrics.js';
import { createTestDatabase, openTestDb, STORAGES } from '../../test/helpers/storage.js';
import { claimDueRuns, Scheduler } from './scheduler.js';
import { ScheduleSender } from './send.js';
import { createSchedule, updateSchedule, type ScheduleFields } from './store.js';
import type { ApiContext } from '../api/context.js';
import type { AuditEntry } from '../audit/chain.js';
import { previewScheduleHandler } from '../api/handlers/scheduleRuns.js';

const log = pino({ level: 'silent' });
const sealer = new Sealer([{ id: 1, key: randomBytes(32) }]);
const T0 = Date.parse('2025-06-02T10:00:00Z'); // a Monday

function world(db: Db) {
  const sent: { payload: RetryPayload | null; newTaskId: string }[] = [];
  const state = { broken: null as string | null };
  const driver: EngineDriver = {
    engine: 'dramatiq',
    capabilities: { 'task.retry': { via: 'broker' } },
    async retry(payload, newTaskId) {
      if (state.broken) throw new Error(state.broken);
      sent.push({ payload, newTaskId });
      return { detail: { newTaskId } };
    },
  };
  const metrics = createMetrics();
  const actions = new ActionService(db, new Map([['dramatiq', driver]]), new DbPayloadStore(db, sealer), log, { brokerProjects: new Set(['default']) });
  const audited: AuditEntry[] = [];
  const sender = new ScheduleSender(db, actions, sealer, metrics, log, { append: async (entry) => audited.push(entry) });
  const clock = { now: T0 };
  const scheduler = new Scheduler(db, sender, log, { now: () => clock.now, batch: 10 });
  return { sent, state, metrics, scheduler, clock, audited };
}

const fields = (over: Partial<ScheduleFields> = {}): ScheduleFields => ({
  name: `s-${randomBytes(4).toString('hex')}`, engine: 'dramatiq', taskName: 'reports.build', args: [1, 'two'], kwargs: { token: 'tok-secret-1' }, queue: 'reports',
  cron: '*/5 * * * *', timezone: 'UTC', enabled: true, ...over,
});

/** A schedule created at `at` (its next_run_at computed from then). */
async function scheduleAt(db: Db, at: number, over: Partial<ScheduleFields> = {}): Promise<string> {
  return (await createSchedule(db, sealer, 1, fields(over), 'user:test', new Date(at))).id;
}

const runsOf = async (db: Db, id: string) => (await db.query<{ trigger: string; due: string; state: string; missed: number; error: string | null; task_id: string | null }>(
  `SELECT trigger, to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS due, state, missed, error, task_id FROM schedule_runs WHERE schedule_id = $1 ORDER BY id`, [id])).rows;
const nextRunAt = async (db: Db, id: string) => (await db.query<{ next: Date | null }>('SELECT next_run_at AS next FROM schedules WHERE id = $1', [id])).rows[0]!.next?.toISOString() ?? null;

describe.each(STORAGES)('the scheduler on %s', (storage) => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb(storage, 'scheduler');
  });
  afterAll(async () => {
    await db?.close();
  });
  afterEach(async () => {
    await db.query('DELETE FROM schedules');
  });

  test('a due schedule fires once, with the exact call, and moves to its next time', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000); // due at 10:00
    expect(await nextRunAt(db, id)).toBe('2025-06-02T10:00:00.000Z');
    w.clock.now = T0 - 1000;
    expect(await w.scheduler.runOnce()).toBe(0); // not yet
    w.clock.now = T0 + 1500;
    expect(await w.scheduler.runOnce()).toBe(1);
    expect(await w.scheduler.runOnce()).toBe(0); // the same due time never again
    expect(await nextRunAt(db, id)).toBe('2025-06-02T10:05:00.000Z');
    const runs = await runsOf(db, id);
    expect(runs).toEqual([{ trigger: 'cron', due: '2025-06-02T10:00', state: 'sent', missed: 0, error: null, task_id: w.sent[0]!.newTaskId }]);
    expect(w.sent.map((s) => s.payload)).toEqual([{ name: 'reports.build', args: [1, 'two'], kwargs: { token: 'tok-secret-1' }, queue: 'reports', options: {} }]);
    const command = (await db.query<{ kind: string; target: string; state: string; requested_by: string }>('SELECT kind, target, state, requested_by FROM commands ORDER BY id DESC LIMIT 1')).rows[0];
    expect(command).toMatchObject({ kind: 'schedule.run', target: id, state: 'succeeded', requested_by: expect.stringMatching(/^schedule:s-/) });
    expect(await w.metrics.registry.getSingleMetricAsString('z4j_schedule_runs_total')).toMatch(/z4j_schedule_runs_total\{state="sent"\} 1/);
    // Nobody asked for it: the audit log says the scheduler sent it, and what became of it.
    expect(w.audited).toEqual([{
      projectId: 1, actor: { kind: 'system', id: null, name: 'scheduler' }, action: 'schedule.run', target: `schedule:${id}`, outcome: 'ok',
      detail: { runId: expect.any(String), trigger: 'cron', state: 'sent', taskId: w.sent[0]!.newTaskId, commandId: expect.any(Number), error: null },
    }]);
    w.clock.now = T0 + 5 * 60_000;
    expect(await w.scheduler.runOnce()).toBe(1);
    expect((await runsOf(db, id)).map((r) => r.due)).toEqual(['2025-06-02T10:00', '2025-06-02T10:05']);
  });

  test('enabling a schedule already enabled keeps its due time: an overdue run still fires', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000); // due at 10:00
    const later = new Date(T0 + 90_000); // 10:01:30, the scheduler has not been round yet
    await updateSchedule(db, sealer, 1, id, { enabled: true }, 'user:test', later);
    expect(await nextRunAt(db, id)).toBe('2025-06-02T10:00:00.000Z');
    await updateSchedule(db, sealer, 1, id, { cron: '*/5 * * * *', timezone: 'UTC' }, 'user:test', later); // the same cron again
    expect(await nextRunAt(db, id)).toBe('2025-06-02T10:00:00.000Z');
    w.clock.now = later.getTime();
    expect(await w.scheduler.runOnce()).toBe(1);
    expect((await runsOf(db, id)).map((r) => r.due)).toEqual(['2025-06-02T10:00']);
    await updateSchedule(db, sealer, 1, id, { cron: '*/10 * * * *' }, 'user:test', later); // a real change: from now
    expect(await nextRunAt(db, id)).toBe('2025-06-02T10:10:00.000Z');
  });

  test('a run its service stopped in the middle of sending is marked failed after a while, never sent again', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000, { enabled: false });
    await db.query(`INSERT INTO schedule_runs (schedule_id, project_id, trigger, due_at, fired_at, state) VALUES ($1, 1, 'cron', $2, $2, 'sending')`, [id, new Date(T0).toISOString()]);
    w.clock.now = T0 + 9 * 60_000;
    await w.scheduler.runOnce();
    expect((await runsOf(db, id)).map((r) => r.state)).toEqual(['sending']); // perhaps still being sent by another replica
    w.clock.now = T0 + 11 * 60_000;
    await w.scheduler.runOnce();
    expect(await runsOf(db, id)).toEqual([expect.objectContaining({ state: 'failed', error: expect.stringMatching(/^the service stopped while sending this run/) })]);
    expect(w.sent).toEqual([]);
    expect(await w.metrics.registry.getSingleMetricAsString('z4j_schedule_runs_total')).toMatch(/state="failed"\} 1/); // an alert on failed runs sees it
  });

  test('a disabled schedule never fires', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000, { enabled: false });
    expect(await nextRunAt(db, id)).toBeNull();
    w.clock.now = T0 + 3_600_000;
    expect(await w.scheduler.runOnce()).toBe(0);
    expect(await runsOf(db, id)).toEqual([]);
    expect(w.sent).toEqual([]);
  });

  test('back after hours away: fires once, for the latest due time, counting the times it missed', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000); // due at 10:00, every 5 minutes
    w.clock.now = T0 + 3 * 3_600_000 + 2 * 60_000; // 13:02
    expect(await w.scheduler.runOnce()).toBe(1);
    expect(await runsOf(db, id)).toEqual([expect.objectContaining({ due: '2025-06-02T13:00', state: 'sent', missed: 36 })]);
    expect(await nextRunAt(db, id)).toBe('2025-06-02T13:05:00.000Z');
    expect(w.sent).toHaveLength(1);
  });

  test('a send that fails leaves a failed run with its error, and the schedule moves on', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000);
    w.state.broken = 'Connection refused to redis://:pw-in-url@broker:6379';
    w.clock.now = T0 + 1000;
    expect(await w.scheduler.runOnce()).toBe(1);
    const [run] = await runsOf(db, id);
    expect(run).toMatchObject({ state: 'failed', task_id: null, error: expect.stringMatching(/could not be reached: Connection refused to redis:\/\/:\[redacted\]@broker/) });
    expect(await nextRunAt(db, id)).toBe('2025-06-02T10:05:00.000Z');
    expect(await w.metrics.registry.getSingleMetricAsString('z4j_schedule_runs_total')).toMatch(/state="failed"\} 1/);
    expect(w.audited.map((e) => [e.action, e.outcome, e.detail?.error])).toEqual([['schedule.run', 'error', run!.error]]);
  });

  test('an engine without a driver: a failed run that says so', async () => {
    const w = world(db);
    const id = await scheduleAt(db, T0 - 60_000, { engine: 'huey' });
    w.clock.now = T0 + 1000;
    await w.scheduler.runOnce();
    expect(await runsOf(db, id)).toEqual([expect.objectContaining({ state: 'failed', error: 'this service has no huey driver: set Z4J_HUEY_REDIS_URL' })]);
  });

  test('a schedule whose zone can no longer be read gets a failed run and is disabled; the others still fire', async () => {
    const w = world(db);
    const broken = await scheduleAt(db, T0 - 120_000, { cron: '* * * * *' }); // due first: 09:59
    const fine = await scheduleAt(db, T0 - 60_000); // due at 10:00
    await db.query(`UPDATE schedules SET timezone = 'Nowhere/Gone' WHERE id = $1`, [broken]);
    w.clock.now = T0 + 1000;
    expect(await w.scheduler.runOnce()).toBe(1);
    expect(await runsOf(db, fine)).toEqual([expect.objectContaining({ due: '2025-06-02T10:00', state: 'sent' })]);
    expect(await runsOf(db, broken)).toEqual([{
      trigger: 'cron', due: '2025-06-02T09:59', state: 'failed', missed: 0, task_id: null,
      error: expect.stringMatching(/^its cron or time zone can no longer be read: .*Nowhere\/Gone.*; disabled$/),
    }]);
    const row = (await db.query<{ enabled: boolean; next: Date | null; by: string }>('SELECT enabled, next_run_at AS next, updated_by AS by FROM schedules WHERE id = $1', [broken])).rows[0];
    expect(row).toEqual({ enabled: false, next: null, by: 'system:scheduler' });
    expect(w.sent).toHaveLength(1);
    expect(await w.metrics.registry.getSingleMetricAsString('z4j_schedule_runs_total')).toMatch(/state="failed"\} 1/);
    w.clock.now = T0 + 5 * 60_000 + 1000;
    expect(await w.scheduler.runOnce()).toBe(1); // the fine one again; the broken one is left alone
    expect(await runsOf(db, broken)).toHaveLength(1);
  });

  test("a deleted project's schedules never fire", async () => {
    const w = world(db);
    const project = (await db.query<{ id: number }>(`INSERT INTO projects (slug, name) VALUES ('gone-${storage}', 'Gone') RETURNING id`)).rows[0]!.id;
    const id = (await createSchedule(db, sealer, project, fields(), 'user:test', new Date(T0 - 60_000))).id;
    await db.query('UPDATE projects SET deleted_at = now() WHERE id = $1', [project]);
    w.clock.now = T0 + 1000;
    expect(await w.scheduler.runOnce()).toBe(0);
    expect(await runsOf(db, id)).toEqual([]);
  });

  test('more due than a batch: worked off in one round, batch by batch', async () => {
    const w = world(db);
    for (let i = 0; i < 25; i++) await scheduleAt(db, T0 - 60_000);
    w.clock.now = T0 + 1000;
    expect(await w.scheduler.runOnce()).toBe(25);
    expect(w.sent).toHaveLength(25);
  });

  test('a batch that held unreadable schedules does not end the round: the rest still fire in it', async () => {
    const w = world(db);
    for (let i = 0; i < 3; i++) await db.query(`UPDATE schedules SET timezone = 'Nowhere/Gone' WHERE id = $1`, [await scheduleAt(db, T0 - 120_000, { cron: '* * * * *' })]);
    for (let i = 0; i < 12; i++) await scheduleAt(db, T0 - 60_000);
    w.clock.now = T0 + 1000;
    // The first claim of 10 holds the 3 broken ones (due first) and 7 fine ones: a short batch of sends, not the end.
    expect(await w.scheduler.runOnce()).toBe(12);
    expect(await w.metrics.registry.getSingleMetricAsString('z4j_schedule_runs_total')).toMatch(/state="failed"\} 3/);
  });

  test('stop waits for the round under way', async () => {
    const w = world(db);
    await scheduleAt(db, T0 - 60_000);
    w.clock.now = T0 + 1000;
    w.scheduler.start(0.05);
    await new Promise((r) => setTimeout(r, 200));
    await w.scheduler.stop();
    const after = w.sent.length;
    await new Promise((r) => setTimeout(r, 150));
    expect([after, w.sent.length]).toEqual([1, 1]);
  });
});

describe('two schedulers on one PostgreSQL database', () => {
  let a: Db;
  let b: Db;
  beforeAll(async () => {
    const url = await createTestDatabase('scheduler_race');
    a = openPostgres(url);
    b = openPostgres(url);
    await migrate(a);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  test('fire each due time once, whichever claims it', async () => {
    const wa = world(a);
    const wb = world(b);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await scheduleAt(a, T0 - 60_000, { cron: '* * * * *' }));
    // Three due times (10:00, 10:01, 10:02), each claimed by both schedulers at once, several times over.
    for (const minute of [0, 1, 2]) {
      wa.clock.now = wb.clock.now = T0 + minute * 60_000 + 500;
      const claims = await Promise.all([...Array(4)].flatMap(() => [claimDueRuns(a, { now: () => wa.clock.now, batch: 7 }), claimDueRuns(b, { now: () => wb.clock.now, batch: 7 })]));
      const more = await Promise.all([wa.scheduler.runOnce(), wb.scheduler.runOnce()]);
      expect(claims.reduce((n, c) => n + c.pending.length, 0) + more[0] + more[1]).toBe(40);
    }
    const runs = (await a.query<{ schedule_id: string; due: string; n: number }>(
      `SELECT schedule_id, to_char(due_at AT TIME ZONE 'UTC', 'HH24:MI') AS due, count(*)::int AS n FROM schedule_runs GROUP BY 1, 2`)).rows;
    expect(runs).toHaveLength(120);
    expect(runs.every((r) => r.n === 1)).toBe(true);
    expect(new Set(runs.map((r) => r.due))).toEqual(new Set(['10:00', '10:01', '10:02']));
  });

  // On PostgreSQL only: embedded PGlite's clock is this process's (one replica, one clock).
  test("due is the database's time, not this replica's clock: a replica whose clock runs an hour ahead fires nothing early", async () => {
    await a.query('DELETE FROM schedules'); // the test before left its own, long overdue
    const now = new Date((await a.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now).getTime();
    const due = new Date(now + 30 * 60_000); // a daily schedule due in half an hour
    const id = await scheduleAt(a, now, { cron: `${due.getUTCMinutes()} ${due.getUTCHours()} * * *` });
    const ahead = jest.spyOn(Date, 'now').mockReturnValue(now + 60 * 60_000);
    try {
      const claim = await claimDueRuns(b, { batch: 10 });
      expect([claim.claimed, await nextRunAt(a, id)]).toEqual([0, new Date(Math.floor(due.getTime() / 60_000) * 60_000).toISOString()]);
    } finally {
      ahead.mockRestore();
    }
    expect(await runsOf(a, id)).toEqual([]);
  });
});

describe('a replica whose clock is off (PostgreSQL)', () => {
  let db: Db;
  beforeAll(async () => {
    db = openPostgres(await createTestDatabase('scheduler_skew'));
    await migrate(db);
  });
  afterAll(async () => {
    jest.useRealTimers();
    await db?.close();
  });

  test("a schedule made or re-timed there is first due after the database's time, not the replica's, as its preview says", async () => {
    // Only Date is faked: the database client's timers and I/O run as they do.
    jest.useFakeTimers({
      now: Date.parse('2001-01-01T00:00:00Z'),
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
    });
    const dbNow = async () => (await db.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now.getTime();
    const hour = 3600_000;
    const made = await createSchedule(db, sealer, 1, fields({ cron: '0 * * * *' }), 'user:test');
    let now = await dbNow();
    let next = Date.parse(made.nextRunAt!);
    expect(next > now && next <= now + hour).toBe(true);

    const changed = await updateSchedule(db, sealer, 1, made.id, { cron: '30 * * * *' }, 'user:test');
    now = await dbNow();
    next = Date.parse(changed!.after.nextRunAt!);
    expect(next > now - 1000 && next <= now + hour).toBe(true);

    // The form's preview of the next times starts from the same time as the schedule would.
    let preview: { next: string[] } | undefined;
    const res = { json: (body: { next: string[] }) => (preview = body) };
    await previewScheduleHandler({ db } as unknown as ApiContext)({ body: { cron: '0 * * * *', count: 1 } } as never, res as never, () => undefined);
    now = await dbNow();
    next = Date.parse(preview!.next[0]!);
    expect(next > now - 1000 && next <= now + hour).toBe(true);
    jest.useRealTimers();
  });
});
