// Schedules through the API: who may do what (and every write audited), what is refused and
// why, the sealed exact call against its redacted display copy, run now through a driver, and
// the keyset pages of schedules and runs.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Db } from '../db/db.js';
import { CeleryDriver } from '../engines/celery/driver.js';
import type { EngineDriver, RetryPayload } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import { openCall } from '../schedules/store.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

const SECRET = 'hunter2xyzzy';

/** A broker driver that sends from a call, remembering what it sent; it fails while `broken` is set. */
function fakeDriver(engine: Engine) {
  const sent: { payload: RetryPayload | null; newTaskId: string }[] = [];
  const state = { broken: null as string | null };
  const driver: EngineDriver = {
    engine,
    capabilities: { 'task.retry': { via: 'broker' } },
    async retry(payload, newTaskId) {
      if (state.broken) throw new Error(state.broken);
      sent.push({ payload, newTaskId });
      return { detail: { newTaskId, queue: payload?.queue ?? 'default' } };
    },
  };
  return { driver, sent, state };
}

describe('the schedules API', () => {
  let db: Db;
  let api: ReturnType<typeof testApp>;
  const dramatiq = fakeDriver('dramatiq');
  const rq: EngineDriver = { engine: 'rq', capabilities: { 'task.retry': { via: 'broker' } }, cannotSendCall: 'this fake RQ driver declares it cannot send a call', async retry() { throw new Error('not here'); } };

  const as = (role: 'viewer' | 'operator' | 'admin') => authHeaders(role);
  // Each request a fresh Idempotency-Key (run now requires one; other routes ignore it).
  const send = (method: 'get' | 'post' | 'patch' | 'delete', path: string, role: 'viewer' | 'operator' | 'admin', body?: unknown) => {
    const r = request(api.app)[method](path).set(as(role)).set('idempotency-key', randomUUID());
    return body === undefined ? r : r.send(body as object);
  };
  const valid = (over: Record<string, unknown> = {}) => ({
    name: `nightly-${Math.random().toString(36).slice(2, 8)}`, engine: 'dramatiq', taskName: 'billing.close_day',
    args: ['postgres://billing:' + SECRET + '@db/billing', 7], kwargs: { password: SECRET, day: 'today' }, queue: 'billing', cron: '0 2 * * *', timezone: 'Europe/Paris', ...over,
  });
  const create = async (over: Record<string, unknown> = {}) => {
    const r = await send('post', '/api/schedules', 'admin', valid(over));
    expect(r.status).toBe(201);
    return r.body.schedule as { id: string; name: string; nextRunAt: string | null; enabled: boolean };
  };
  const audit = async (target: string) => (await db.query<{ action: string; outcome: string; actor_name: string }>(
    'SELECT action, outcome, actor_name FROM audit_log WHERE target = $1 ORDER BY seq', [target])).rows.map((r) => `${r.action} ${r.outcome} ${r.actor_name}`);

  beforeAll(async () => {
    db = await openTestDb('pglite', 'schedules_api');
    api = testApp(db, { config: { Z4J_BROKER_PROJECTS: ['default', 'paged'] }, drivers: new Map<Engine, EngineDriver>([['dramatiq', dramatiq.driver], ['rq', rq]]) });
    api.pipeline.start();
  });
  afterAll(async () => {
    await api?.pipeline.stop();
    await db?.close();
  });

  test('an Admin creates a schedule: 201, the display copy redacted, the sealed call exact, nothing secret in any read or audit row', async () => {
    const before = Date.now();
    const r = await send('post', '/api/schedules', 'admin', valid({ name: 'close the day' }));
    expect(r.status).toBe(201);
    const s = r.body.schedule;
    expect(s).toMatchObject({
      id: expect.stringMatching(/^sch_/), name: 'close the day', engine: 'dramatiq', taskName: 'billing.close_day', queue: 'billing', cron: '0 2 * * *', timezone: 'Europe/Paris',
      enabled: true, lastRun: null, createdBy: 'user:ada', updatedBy: 'user:ada', kwargs: { password: '[redacted]', day: 'today' },
    });
    expect(s.args).toEqual(['postgres://billing:[redacted]@db/billing', 7]);
    // The next 02:00 in Paris, after now.
    const next = Date.parse(s.nextRunAt);
    expect(next).toBeGreaterThan(before);
    expect(next - before).toBeLessThanOrEqual(86_400_000 + 3_600_000);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('02:00');

    const row = (await db.query<{ project_id: number; sealed_call: Buffer }>('SELECT project_id, sealed_call FROM schedules WHERE id = $1', [s.id])).rows[0]!;
    expect(openCall(api.ctx.sealer, row.project_id, s.id, row.sealed_call)).toEqual({ args: ['postgres://billing:' + SECRET + '@db/billing', 7], kwargs: { password: SECRET, day: 'today' } });
    const reads = [await send('get', `/api/schedules/${s.id}`, 'viewer'), await send('get', '/api/schedules', 'viewer')];
    for (const read of reads) expect([read.status, JSON.stringify(read.body).includes(SECRET)]).toEqual([200, false]);
    expect(reads[0]!.body.schedule).toEqual(s);
    const rows = (await db.query<{ detail: unknown }>(`SELECT detail FROM audit_log WHERE target = $1`, [`schedule:${s.id}`])).rows;
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(SECRET);
  });

  test('defaults: no args, the default queue, UTC, enabled', async () => {
    const r = await send('post', '/api/schedules', 'admin', { name: 'plain', engine: 'dramatiq', taskName: 't', cron: '@hourly' });
    expect(r.status).toBe(201);
    expect(r.body.schedule).toMatchObject({ args: [], kwargs: {}, queue: null, timezone: 'UTC', enabled: true, nextRunAt: expect.stringMatching(/:00:00\.000Z$/) });
  });

  test('refused input: 400 with a code and a message that says what is wrong, audited', async () => {
    const big = 'x'.repeat(40 * 1024);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ cron: '0 */5 * * * *' }, 'INVALID_CRON', /^cron needs 5 fields \(minute hour day-of-month month day-of-week\); seconds are not supported$/],
      [{ cron: '61 * * * *' }, 'INVALID_CRON', /minute 61 is out of range/],
      [{ timezone: 'Europe/Pariss' }, 'UNKNOWN_TIMEZONE', /unknown time zone "Europe\/Pariss"/],
      [{ engine: 'huey' }, 'ENGINE_NOT_CONFIGURED', /no huey driver: set Z4J_HUEY_REDIS_URL/],
      [{ engine: 'rq' }, 'ENGINE_CANNOT_SEND', /^this fake RQ driver declares it cannot send a call$/],
      [{ engine: 'beanstalk' }, 'BAD_REQUEST', /^engine: /],
      [{ name: '' }, 'BAD_REQUEST', /^name: /],
      [{ name: 'n'.repeat(201) }, 'BAD_REQUEST', /^name: /],
      [{ args: { not: 'a list' } }, 'BAD_REQUEST', /^args: /],
      [{ color: 'blue' }, 'BAD_REQUEST', /color/],
      [{ args: [big], kwargs: { more: big } }, 'BAD_REQUEST', /^args \+ kwargs: \d+ bytes of JSON, at most 65536 \(64 KiB\)$/],
    ];
    for (const [over, code, message] of cases) {
      const r = await send('post', '/api/schedules', 'admin', valid(over));
      expect({ over: Object.keys(over), status: r.status, code: r.body.error?.code, ok: message.test(r.body.error?.message) }).toEqual({ over: Object.keys(over), status: 400, code, ok: true });
    }
    // Nested past any real call (10,000 deep broke the sealing: a 500), and a number JSON cannot carry (sent as text).
    const raw = (body: string) => request(api.app).post('/api/schedules').set(as('admin')).set('content-type', 'application/json').send(body);
    const tooDeep = await raw(JSON.stringify(valid({ args: [0] })).replace('"args":[0]', `"args":${'['.repeat(10_000)}1${']'.repeat(10_000)}`));
    expect([tooDeep.status, tooDeep.body.error?.code, tooDeep.body.error?.message]).toEqual([400, 'BAD_REQUEST', 'args: nested deeper than 32 levels']);
    const huge = await raw(JSON.stringify(valid({ kwargs: { n: 0 } })).replace('"n":0', '"n":1e400'));
    expect([huge.status, huge.body.error?.code, huge.body.error?.message]).toEqual([400, 'BAD_REQUEST', 'kwargs: a number too large for JSON (pass it as a string)']);
    const missing = await send('post', '/api/schedules', 'admin', { name: 'x', engine: 'dramatiq', cron: '@daily' });
    expect([missing.status, missing.body.error.code, missing.body.error.message]).toEqual([400, 'BAD_REQUEST', expect.stringMatching(/^taskName: /)]);
    const refused = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'schedule.create' AND outcome = 'refused'`);
    expect(refused.rows[0]!.n).toBe(cases.length + 3);
  });

  test('a name taken in the project: 409 SCHEDULE_NAME_TAKEN, on create and on rename', async () => {
    const a = await create({ name: 'taken' });
    const b = await create({ name: 'free' });
    const again = await send('post', '/api/schedules', 'admin', valid({ name: 'taken' }));
    expect([again.status, again.body.error.code]).toEqual([409, 'SCHEDULE_NAME_TAKEN']);
    const rename = await send('patch', `/api/schedules/${b.id}`, 'admin', { name: 'taken' });
    expect([rename.status, rename.body.error.code]).toEqual([409, 'SCHEDULE_NAME_TAKEN']);
    expect((await send('get', `/api/schedules/${a.id}`, 'viewer')).body.schedule.name).toBe('taken');
  });

  test('an unknown schedule: 404 SCHEDULE_NOT_FOUND on every route that names one', async () => {
    const calls = [
      send('get', '/api/schedules/sch_nope', 'viewer'), send('get', '/api/schedules/sch_nope/runs', 'viewer'),
      send('patch', '/api/schedules/sch_nope', 'admin', { cron: '@daily' }), send('delete', '/api/schedules/sch_nope', 'admin'),
      send('post', '/api/schedules/sch_nope/enable', 'operator'), send('post', '/api/schedules/sch_nope/disable', 'operator'), send('post', '/api/schedules/sch_nope/run', 'operator'),
    ];
    for (const r of await Promise.all(calls)) expect([r.status, r.body.error.code]).toEqual([404, 'SCHEDULE_NOT_FOUND']);
  });

  test('roles: a Viewer reads, an Operator enables, disables and runs, an Admin changes and deletes; lower roles get 403, audited', async () => {
    const s = await create();
    const path = `/api/schedules/${s.id}`;
    expect((await send('get', path, 'viewer')).status).toBe(200);
    expect((await send('get', `${path}/runs`, 'viewer')).status).toBe(200);
    expect((await send('post', '/api/schedules/preview', 'viewer', { cron: '@daily' })).status).toBe(200);
    const refused = [
      await send('post', '/api/schedules', 'operator', valid()), await send('patch', path, 'operator', { cron: '@daily' }), await send('delete', path, 'operator'),
      await send('post', `${path}/enable`, 'viewer'), await send('post', `${path}/disable`, 'viewer'), await send('post', `${path}/run`, 'viewer'),
    ];
    expect(refused.map((r) => [r.status, r.body.error.code])).toEqual(Array(6).fill([403, 'ROLE_TOO_LOW']));
    expect((await send('post', `${path}/disable`, 'operator')).status).toBe(200);
    expect((await send('post', `${path}/enable`, 'operator')).status).toBe(200);
    expect((await send('post', `${path}/run`, 'operator')).status).toBe(202);
    expect((await send('patch', path, 'admin', { queue: null })).status).toBe(200);
    expect((await send('delete', path, 'admin')).status).toBe(204);
    const rows = (await db.query<{ action: string; outcome: string; actor_name: string }>(
      // Under the schedule's own target, as its writes are (the log filtered by it shows the attempts); a create's, its URL.
      `SELECT action, outcome, actor_name FROM audit_log WHERE action LIKE 'schedule.%' AND target IN ($1, '/api/schedules') AND outcome = 'refused' AND seq > 0 ORDER BY seq DESC LIMIT 6`, [`schedule:${s.id}`],
    )).rows;
    expect(rows.map((r) => `${r.action} ${r.actor_name}`).sort()).toEqual([
      'schedule.create otto', 'schedule.delete otto', 'schedule.disable vera', 'schedule.enable vera', 'schedule.run vera', 'schedule.update otto',
    ].sort());
  });

  test('every write is audited under its action, with the schedule as target', async () => {
    const s = await create({ name: 'audited' });
    const path = `/api/schedules/${s.id}`;
    await send('patch', path, 'admin', { cron: '*/10 * * * *' });
    await send('post', `${path}/disable`, 'operator');
    await send('post', `${path}/enable`, 'operator');
    await send('post', `${path}/run`, 'operator');
    await send('delete', path, 'admin');
    expect(await audit(`schedule:${s.id}`)).toEqual([
      'schedule.create ok ada', 'schedule.update ok ada', 'schedule.disable ok otto', 'schedule.enable ok otto', 'schedule.run ok otto', 'schedule.delete ok ada',
    ]);
    const update = (await db.query<{ detail: { from: { cron: string }; to: { cron: string } } }>(`SELECT detail FROM audit_log WHERE target = $1 AND action = 'schedule.update'`, [`schedule:${s.id}`])).rows[0]!;
    expect([update.detail.from.cron, update.detail.to.cron]).toEqual(['0 2 * * *', '*/10 * * * *']);
    expect((await db.query('SELECT 1 FROM schedules WHERE id = $1', [s.id])).rows).toEqual([]);
    expect((await db.query('SELECT 1 FROM schedule_runs WHERE schedule_id = $1', [s.id])).rows).toEqual([]);
  });

  test('a changed cron or zone moves nextRunAt from now; disable clears it, enable sets it again; new args replace the old whole', async () => {
    const s = await create({ cron: '0 2 * * *', timezone: 'UTC' });
    const path = `/api/schedules/${s.id}`;
    const hourly = (await send('patch', path, 'admin', { cron: ' 0   * * * * ' })).body.schedule;
    expect(hourly.cron).toBe('0 * * * *');
    expect(Date.parse(hourly.nextRunAt) - Date.now()).toBeLessThanOrEqual(3_600_000);
    const zoned = (await send('patch', path, 'admin', { cron: '30 9 * * *', timezone: 'Asia/Kolkata' })).body.schedule;
    expect(zoned.nextRunAt).toMatch(/T04:00:00\.000Z$/); // 09:30 IST
    const off = (await send('post', `${path}/disable`, 'operator')).body.schedule;
    expect([off.enabled, off.nextRunAt]).toEqual([false, null]);
    const on = (await send('post', `${path}/enable`, 'operator')).body.schedule;
    expect([on.enabled, on.nextRunAt]).toEqual([true, zoned.nextRunAt]);
    const named = (await send('patch', path, 'admin', { taskName: 'billing.reopen' })).body.schedule;
    expect(named.nextRunAt).toBe(zoned.nextRunAt); // not a change of time
    const args = (await send('patch', path, 'admin', { args: [1] })).body.schedule;
    expect([args.args, args.kwargs]).toEqual([[1], { password: '[redacted]', day: 'today' }]);
    const row = (await db.query<{ project_id: number; sealed_call: Buffer }>('SELECT project_id, sealed_call FROM schedules WHERE id = $1', [s.id])).rows[0]!;
    expect(openCall(api.ctx.sealer, row.project_id, s.id, row.sealed_call)).toEqual({ args: [1], kwargs: { password: SECRET, day: 'today' } });
    const bad = await send('patch', path, 'admin', { engine: 'celery' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect((await send('patch', path, 'admin', { cron: '* * * * * *' })).body.error.code).toBe('INVALID_CRON');
  });

  test('run now sends the exact call as a new task, shown enqueued with its reason, and the run says so', async () => {
    const s = await create({ name: 'run me' });
    dramatiq.sent.length = 0;
    const r = await send('post', `/api/schedules/${s.id}/run`, 'operator');
    expect(r.status).toBe(202);
    expect(r.body.run).toMatchObject({ scheduleId: s.id, trigger: 'manual', dueAt: null, requestedBy: 'otto', state: 'sent', missed: 0, error: null, commandId: expect.any(String), taskId: expect.any(String) });
    expect(dramatiq.sent).toEqual([{ newTaskId: r.body.run.taskId, payload: { name: 'billing.close_day', args: ['postgres://billing:' + SECRET + '@db/billing', 7], kwargs: { password: SECRET, day: 'today' }, queue: 'billing', options: {} } }]);
    await api.pipeline.drained();
    const task = await send('get', `/api/tasks/dramatiq/${r.body.run.taskId}`, 'viewer');
    expect(task.body.task).toMatchObject({ state: 'enqueued', name: 'billing.close_day', queue: 'billing', hasPayload: true });
    expect(task.body.events[0].fields.reason).toBe('schedule run me (run now by otto)');
    expect(JSON.stringify(task.body)).not.toContain(SECRET);
    const command = await send('get', `/api/commands/${r.body.run.commandId}`, 'viewer');
    expect(command.body.command).toMatchObject({ kind: 'schedule.run', target: s.id, state: 'succeeded', requestedBy: 'otto' });
    expect((await send('get', `/api/schedules/${s.id}`, 'viewer')).body.schedule.lastRun).toEqual(r.body.run);
  });

  test('run now repeated with its Idempotency-Key sends once and answers with the first run; without a key it is refused', async () => {
    const s = await create({ name: 'once' });
    const other = await create({ name: 'other' });
    dramatiq.sent.length = 0;
    const key = randomUUID();
    const runNow = (id: string, k?: string) => {
      const r = request(api.app).post(`/api/schedules/${id}/run`).set(as('operator'));
      return k === undefined ? r : r.set('idempotency-key', k);
    };
    const first = await runNow(s.id, key);
    const again = await runNow(s.id, key);
    expect([first.status, again.status]).toEqual([202, 200]);
    expect(again.body.run).toEqual(first.body.run);
    expect(dramatiq.sent).toHaveLength(1);
    const reused = await runNow(other.id, key);
    expect([reused.status, reused.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const keyless = await runNow(s.id);
    expect([keyless.status, keyless.body.error.code]).toEqual([400, 'IDEMPOTENCY_KEY_REQUIRED']);
    expect(dramatiq.sent).toHaveLength(1);
    const audited = await db.query<{ detail: { repeated?: boolean } }>(`SELECT detail FROM audit_log WHERE action = 'schedule.run' AND target = $1 AND outcome = 'ok' ORDER BY id`, [`schedule:${s.id}`]);
    expect(audited.rows.map((r) => r.detail.repeated ?? false)).toEqual([false, true]);
  });

  test("an Idempotency-Key in z4j's own namespace is refused: an Operator cannot take a run's command key ahead of it", async () => {
    const s = await create({ name: 'not preempted' });
    await api.pipeline.offer('test', { v: 1, type: 'task', id: 'preempt-ev-1', engine: 'dramatiq', project: 'default', kind: 'failed', taskId: 'preempt-1', occurredAt: Date.now(), fields: { name: 'billing.close_day' } });
    await api.pipeline.drained();
    // Run ids are a sequence: the next one is easy to guess, and its command's key is schedule-run:<id>.
    const next = Number((await db.query<{ n: string }>(
      `SELECT (last_value + CASE WHEN is_called THEN 1 ELSE 0 END)::text AS n FROM ${(await db.query<{ s: string }>(`SELECT pg_get_serial_sequence('schedule_runs', 'id') AS s`)).rows[0]!.s}`,
    )).rows[0]!.n);
    const taken: unknown[] = [];
    for (const key of [`schedule-run:${next}`, `bulk:1:dramatiq:preempt-1`, `purge:${randomUUID()}`]) {
      const t = await request(api.app).post('/api/tasks/dramatiq/preempt-1/actions/retry').set(as('operator')).set('idempotency-key', key);
      taken.push([t.status, t.body.error?.code]);
    }
    const r = await send('post', `/api/schedules/${s.id}/run`, 'operator');
    expect({ taken, run: [r.status, r.body.run.id, r.body.run.state, r.body.run.error] }).toEqual({
      taken: [[400, 'BAD_REQUEST'], [400, 'BAD_REQUEST'], [400, 'BAD_REQUEST']],
      run: [202, String(next), 'sent', null],
    });
  });

  test('a send that fails leaves a failed run with the reason, without the password it quoted', async () => {
    const s = await create();
    dramatiq.state.broken = `Connection refused to redis://:${SECRET}@broker:6379`;
    try {
      const r = await send('post', `/api/schedules/${s.id}/run`, 'operator');
      expect(r.status).toBe(202);
      expect(r.body.run).toMatchObject({ state: 'failed', taskId: null, error: expect.stringMatching(/could not be reached: Connection refused to redis:\/\/:\[redacted\]@broker/) });
      expect(JSON.stringify(r.body)).not.toContain(SECRET);
    } finally {
      dramatiq.state.broken = null;
    }
  });

  test('preview: the next times of a cron in a zone; refusals as on create', async () => {
    const r = await send('post', '/api/schedules/preview', 'viewer', { cron: '0 9 * * 1-5', timezone: 'America/New_York', count: 3 });
    expect(r.status).toBe(200);
    expect(r.body.next).toHaveLength(3);
    for (const t of r.body.next) expect(new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hourCycle: 'h23', weekday: 'short' }).format(new Date(t))).toMatch(/^(Mon|Tue|Wed|Thu|Fri), 09$/);
    expect((await send('post', '/api/schedules/preview', 'viewer', { cron: '@daily' })).body.next).toHaveLength(5);
    const bad = await Promise.all([
      send('post', '/api/schedules/preview', 'viewer', { cron: '* * * * * *' }), send('post', '/api/schedules/preview', 'viewer', { cron: '@daily', timezone: 'Nowhere' }),
      send('post', '/api/schedules/preview', 'viewer', { cron: '@daily', count: 21 }),
    ]);
    expect(bad.map((b) => [b.status, b.body.error.code])).toEqual([[400, 'INVALID_CRON'], [400, 'UNKNOWN_TIMEZONE'], [400, 'BAD_REQUEST']]);
  });

  test('a refused preview is a refused read: no audit row; a refused write still has one', async () => {
    const rows = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`)).rows[0]!.n;
    const before = await rows();
    expect((await send('post', '/api/schedules/preview', 'viewer', { cron: '* * *' })).status).toBe(400);
    expect((await send('post', '/api/schedules/preview', 'viewer', { cron: '@daily', timezone: 'Nowhere' })).status).toBe(400);
    expect(await rows()).toBe(before);
    expect((await send('post', '/api/schedules', 'admin', valid({ cron: '* * *' }))).status).toBe(400);
    const after = await db.query<{ action: string; outcome: string }>(`SELECT action, outcome FROM audit_log ORDER BY seq DESC LIMIT $1`, [(await rows()) - before]);
    expect(after.rows).toEqual([{ action: 'schedule.create', outcome: 'refused' }]);
  });

  test('capabilities: only drivers that can act (not Celery without brokers); sendable, only the engines a schedule can send with (not a driver that cannot send a call)', async () => {
    const caps = await send('get', '/api/capabilities', 'viewer');
    expect(caps.status).toBe(200);
    expect([caps.body.engines, caps.body.sendable]).toEqual([['dramatiq', 'rq'], ['dramatiq']]);
    const withCelery = testApp(db, { config: { Z4J_BROKER_PROJECTS: ['default'] }, drivers: new Map<Engine, EngineDriver>([['celery', new CeleryDriver([])], ['dramatiq', dramatiq.driver]]) });
    const r = await request(withCelery.app).get('/api/capabilities').set(as('viewer'));
    expect([r.body.engines, r.body.sendable, r.body.capabilities[0].engines]).toEqual([['dramatiq'], ['dramatiq'], { dramatiq: expect.anything() }]);
    // Where the project may not act on the brokers, nothing is sendable.
    const elsewhere = testApp(db, { config: { Z4J_BROKER_PROJECTS: ['paged'] }, drivers: new Map<Engine, EngineDriver>([['dramatiq', dramatiq.driver]]) });
    expect((await request(elsewhere.app).get('/api/capabilities').set(as('viewer'))).body).toMatchObject({ engines: [], sendable: [], brokersNotInProject: true });
  });

  test('schedules and runs page by key, newest first, each once', async () => {
    await db.query(`INSERT INTO projects (slug, name) VALUES ('paged', 'Paged')`);
    const inPaged = (path: string) => `${path}${path.includes('?') ? '&' : '?'}project=paged`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await request(api.app).post(inPaged('/api/schedules')).set(authHeaders('owner')).send(valid({ name: `p${i}` }));
      ids.push(r.body.schedule.id);
    }
    // Two in one microsecond: the id orders them.
    await db.query(`UPDATE schedules SET created_at = '2025-01-01T00:00:00.000001Z' WHERE id = ANY($1)`, [ids.slice(1, 3)]);
    const walk = async (path: string, key: string) => {
      const seen: { id: string }[] = [];
      let cursor: string | null = null;
      do {
        const r: request.Response = await request(api.app).get(inPaged(`${path}?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).set(authHeaders('viewer'));
        expect(r.status).toBe(200);
        expect(r.body[key].length).toBeLessThanOrEqual(2);
        seen.push(...r.body[key]);
        cursor = r.body.nextCursor;
      } while (cursor);
      return seen.map((x) => x.id);
    };
    const listed = await walk('/api/schedules', 'schedules');
    const expected = (await db.query<{ id: string }>(`SELECT s.id FROM schedules s JOIN projects p ON p.id = s.project_id WHERE p.slug = 'paged' ORDER BY s.created_at DESC, s.id DESC`)).rows.map((r) => r.id);
    expect(listed).toEqual(expected);
    expect(new Set(listed)).toEqual(new Set(ids));

    const runs: string[] = [];
    for (let i = 0; i < 5; i++) runs.push((await request(api.app).post(inPaged(`/api/schedules/${ids[0]}/run`)).set(authHeaders('operator')).set('idempotency-key', randomUUID())).body.run.id);
    expect(await walk(`/api/schedules/${ids[0]}/runs`, 'runs')).toEqual([...runs].reverse());
    // Another project's schedule is not found from this one.
    expect((await send('get', `/api/schedules/${ids[0]}/runs`, 'viewer')).status).toBe(404);
    const badCursor = await request(api.app).get(inPaged('/api/schedules?cursor=nope')).set(authHeaders('viewer'));
    expect([badCursor.status, badCursor.body.error.code]).toEqual([400, 'BAD_CURSOR']);
  });

  test("deleting a project removes its schedules and their runs, and no other project's", async () => {
    const kept = await create({ name: 'kept' });
    await send('post', `/api/schedules/${kept.id}/run`, 'operator');
    const count = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0]!.n;
    const inPaged = `(SELECT id FROM projects WHERE slug = 'paged')`;
    expect(await count(`SELECT count(*)::int AS n FROM schedule_runs WHERE project_id = ${inPaged}`)).toBe(5);
    const r = await request(api.app).delete('/api/projects/paged').set(authHeaders('owner'));
    expect(r.status).toBe(204);
    expect(await count(`SELECT count(*)::int AS n FROM schedules WHERE project_id = ${inPaged}`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM schedule_runs WHERE project_id = ${inPaged}`)).toBe(0);
    expect((await send('get', `/api/schedules/${kept.id}/runs`, 'viewer')).body.runs).toHaveLength(1);
    const audited = (await db.query<{ detail: unknown }>(`SELECT detail FROM audit_log WHERE action = 'project.delete' AND outcome = 'ok'`)).rows;
    expect(audited).toEqual([{ detail: { schedules: 5 } }]);
  });
});
