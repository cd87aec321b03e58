// The schedules part of the fake service (fakeService.ts): the schedules endpoints as the
// contract gives them (/tmp/sched contract: roles, strict bodies, INVALID_CRON, UNKNOWN_TIMEZONE,
// ENGINE_NOT_CONFIGURED, SCHEDULE_NAME_TAKEN, SCHEDULE_NOT_FOUND, keyset paging). Times in a
// preview are not computed from the cron: the page shows what the service says.
import type {
  Engine,
  NewSchedule,
  ProjectRole,
  Schedule,
  ScheduleChanges,
  SchedulePage,
  ScheduleRun,
  ScheduleRunPage,
} from '../api/types';
import { pageOf, reply, type FakeReply } from './backend';

type Handler = (r: { url: string; params?: Record<string, unknown>; data?: unknown }) => FakeReply;

const at = (iso: string) => new Date(iso).toISOString();

export const scheduleRun = (over: Partial<ScheduleRun> & Pick<ScheduleRun, 'id' | 'scheduleId'>): ScheduleRun => ({
  trigger: 'cron',
  dueAt: at('2026-11-29T01:00:00Z'),
  firedAt: at('2026-11-29T01:00:00.250Z'),
  requestedBy: null,
  state: 'sent',
  taskId: null,
  commandId: null,
  missed: 0,
  error: null,
  ...over,
});

export const schedule = (over: Partial<Schedule> & Pick<Schedule, 'id' | 'name'>): Schedule => ({
  engine: 'celery',
  taskName: 'billing.tasks.close_day',
  args: [],
  kwargs: {},
  queue: null,
  cron: '0 2 * * *',
  timezone: 'UTC',
  enabled: true,
  nextRunAt: at('2026-11-30T02:00:00Z'),
  lastRun: null,
  createdAt: at('2026-11-01T09:00:00Z'),
  createdBy: 'alice',
  updatedAt: at('2026-11-01T09:00:00Z'),
  updatedBy: 'alice',
  ...over,
});

/** The schedules a journey starts from, newest first: one that sends each night, one switched off. */
export function defaultSchedules(): Schedule[] {
  return [
    schedule({
      id: 'sch_close',
      name: 'Close the day',
      args: ['eu'],
      kwargs: { api_key: '[redacted]', dry_run: false },
      queue: 'billing',
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
      nextRunAt: at('2026-11-30T01:00:00Z'),
      lastRun: scheduleRun({ id: '2', scheduleId: 'sch_close', taskId: 'c-1' }),
      createdAt: at('2026-11-02T09:00:00Z'),
    }),
    schedule({
      id: 'sch_report',
      name: 'Weekly report',
      engine: 'rq',
      taskName: 'reports.weekly',
      cron: '@weekly',
      enabled: false,
      nextRunAt: null,
      lastRun: scheduleRun({
        id: '1',
        scheduleId: 'sch_report',
        state: 'failed',
        error: 'no live worker with the z4j agent for rq',
      }),
    }),
  ];
}

const error = (status: number, code: string, message: string) => reply({ error: { code, message } }, status);

const FIELDS: Array<{ name: string; min: number; max: number }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
];
const MACROS = ['@hourly', '@daily', '@weekly', '@monthly', '@yearly'];

/** What the service says of a cron it cannot read, or null. */
export function cronProblem(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (MACROS.includes(cron.trim())) {
    return null;
  }
  if (fields.length !== 5) {
    return 'cron needs 5 fields (minute hour day-of-month month day-of-week); seconds are not supported';
  }
  for (const [i, field] of fields.entries()) {
    const { name, min, max } = FIELDS[i]!;
    if (!/^[\d*/,\-A-Za-z]+$/.test(field)) {
      return `${name} "${field}" is not a cron field`;
    }
    const outside = (field.match(/\d+/g) ?? [])
      .map(Number)
      .find((n) => (n < min || n > max) && !field.includes(`/${n}`));
    if (outside !== undefined) {
      return `${name} ${outside} is out of range ${min}–${max}`;
    }
  }
  return null;
}

function timezoneProblem(timezone: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return null;
  } catch {
    return `unknown time zone "${timezone}"`;
  }
}

const CREATE_KEYS = ['name', 'engine', 'taskName', 'args', 'kwargs', 'queue', 'cron', 'timezone', 'enabled'];

/** A 400 for what the service's strict zod schema and its cron and time zone checks refuse, or null. */
function invalid(body: Record<string, unknown>, creating: boolean): FakeReply | null {
  const allowed = creating ? CREATE_KEYS : CREATE_KEYS.filter((k) => k !== 'engine');
  const unknown = Object.keys(body).find((k) => !allowed.includes(k));
  if (unknown) {
    return error(400, 'BAD_REQUEST', `${unknown}: unrecognized key`);
  }
  const required = creating ? ['name', 'engine', 'taskName', 'cron'] : [];
  const missing = required.find((k) => typeof body[k] !== 'string' || body[k] === '');
  if (missing) {
    return error(400, 'BAD_REQUEST', `${missing}: required`);
  }
  if (typeof body.name === 'string' && (body.name.length < 1 || body.name.length > 200)) {
    return error(400, 'BAD_REQUEST', 'name: 1 to 200 characters');
  }
  if ('args' in body && !Array.isArray(body.args)) {
    return error(400, 'BAD_REQUEST', 'args: expected array');
  }
  if ('kwargs' in body && (typeof body.kwargs !== 'object' || body.kwargs === null || Array.isArray(body.kwargs))) {
    return error(400, 'BAD_REQUEST', 'kwargs: expected object');
  }
  const cron = typeof body.cron === 'string' ? cronProblem(body.cron) : null;
  if (cron) {
    return error(400, 'INVALID_CRON', cron);
  }
  const timezone = typeof body.timezone === 'string' ? timezoneProblem(body.timezone) : null;
  return timezone ? error(400, 'UNKNOWN_TIMEZONE', timezone) : null;
}

/**
 * Adds the schedules endpoints to `routes`. `schedules` (newest first) and `runs` (by schedule
 * id, newest first) are the state: a test may fill them before the page loads.
 */
export function addScheduleRoutes(
  routes: Record<string, Handler>,
  url: (path: string) => string,
  role: ProjectRole,
  allows: (needed: ProjectRole) => boolean,
  /** The engines a schedule can be created with (the capabilities' sendable), read at each request. */
  sendable: () => Engine[]
) {
  const schedules = defaultSchedules();
  const runs: Record<string, ScheduleRun[]> = {
    sch_close: [schedules[0]!.lastRun!],
    sch_report: [schedules[1]!.lastRun!],
  };
  let made = 0;
  const now = at('2026-11-29T12:00:59Z');
  const forbidden = (needed: ProjectRole) =>
    error(403, 'FORBIDDEN', `this needs the ${needed} role in project default`);
  const nameTaken = (name: unknown, id?: string) =>
    schedules.some((s) => s.name === name && s.id !== id)
      ? error(409, 'SCHEDULE_NAME_TAKEN', `a schedule named "${String(name)}" already exists in this project`)
      : null;
  const nextRun = (enabled: boolean) => (enabled ? at('2026-11-30T02:00:00Z') : null);

  /** The routes of one schedule, by id: each looks it up when asked, so a deleted one answers 404. */
  const addRoutesOf = (id: string) => {
    const path = (tail = '') => url(`/schedules/${id}${tail}`);
    const found = (then: (s: Schedule) => FakeReply): FakeReply => {
      const s = schedules.find((x) => x.id === id);
      return s ? then(s) : error(404, 'SCHEDULE_NOT_FOUND', `no schedule ${id} in this project`);
    };
    routes[`GET ${path()}`] = () => found((s) => reply({ schedule: s }));
    routes[`PATCH ${path()}`] = (r) =>
      found((s) => {
        if (!allows('admin')) {
          return forbidden('admin');
        }
        const changes = r.data as ScheduleChanges;
        const refused = invalid(changes as Record<string, unknown>, false) ?? nameTaken(changes.name, id);
        if (refused) {
          return refused;
        }
        Object.assign(s, changes, { updatedAt: now, updatedBy: `${role}-user` });
        s.nextRunAt = nextRun(s.enabled);
        return reply({ schedule: s });
      });
    routes[`DELETE ${path()}`] = () =>
      found((s) => {
        if (!allows('admin')) {
          return forbidden('admin');
        }
        schedules.splice(schedules.indexOf(s), 1);
        return reply(null, 204);
      });
    for (const enabled of [true, false]) {
      routes[`POST ${path(enabled ? '/enable' : '/disable')}`] = () =>
        found((s) => {
          if (!allows('operator')) {
            return forbidden('operator');
          }
          Object.assign(s, { enabled, nextRunAt: nextRun(enabled), updatedAt: now, updatedBy: `${role}-user` });
          return reply({ schedule: s });
        });
    }
    routes[`POST ${path('/run')}`] = () =>
      found((s) => {
        if (!allows('operator')) {
          return forbidden('operator');
        }
        const list = (runs[id] ??= []);
        const run = scheduleRun({
          id: String(100 + list.length),
          scheduleId: id,
          trigger: 'manual',
          dueAt: null,
          firedAt: now,
          requestedBy: `${role}-user`,
          taskId: `sched-${id}-${list.length}`,
        });
        list.unshift(run);
        s.lastRun = run;
        return reply({ run }, 202);
      });
    routes[`GET ${path('/runs')}`] = (r) =>
      found(() => {
        const { page, nextCursor } = pageOf(runs[id] ?? [], r.params);
        return reply<ScheduleRunPage>({ runs: page, nextCursor });
      });
  };

  routes[`GET ${url('/schedules')}`] = (r) => {
    const { page, nextCursor } = pageOf(schedules, r.params);
    return reply<SchedulePage>({ schedules: page, nextCursor });
  };
  routes[`POST ${url('/schedules')}`] = (r) => {
    if (!allows('admin')) {
      return forbidden('admin');
    }
    const body = r.data as NewSchedule;
    const refused = invalid(body as unknown as Record<string, unknown>, true) ?? nameTaken(body.name);
    if (refused) {
      return refused;
    }
    if (!sendable().includes(body.engine)) {
      return error(400, 'ENGINE_NOT_CONFIGURED', `no ${body.engine} driver on this service`);
    }
    const created = schedule({
      args: [],
      kwargs: {},
      queue: null,
      timezone: 'UTC',
      enabled: true,
      ...body,
      id: `sch_new${++made}`,
      nextRunAt: nextRun(body.enabled ?? true),
      createdAt: now,
      createdBy: `${role}-user`,
      updatedAt: now,
      updatedBy: `${role}-user`,
    });
    schedules.unshift(created);
    addRoutesOf(created.id);
    return reply({ schedule: created }, 201);
  };
  routes[`POST ${url('/schedules/preview')}`] = (r) => {
    const { cron, timezone = 'UTC', count = 5 } = r.data as { cron: string; timezone?: string; count?: number };
    const refused = invalid({ cron, timezone }, false);
    if (refused) {
      return refused;
    }
    if (count < 1 || count > 20) {
      return error(400, 'BAD_REQUEST', 'count: 1 to 20');
    }
    const next = Array.from({ length: count }, (_, i) => new Date(Date.UTC(2026, 11, 1 + i, 1)).toISOString());
    return reply({ next });
  };
  for (const s of schedules) {
    addRoutesOf(s.id);
  }

  /** Replaces the schedules and their runs with a test's own (made with `schedule()`), before the page loads. */
  const seed = (rows: Schedule[], runsOf: Record<string, ScheduleRun[]> = {}) => {
    schedules.splice(0, schedules.length, ...rows);
    for (const key of Object.keys(runs)) {
      delete runs[key];
    }
    Object.assign(runs, runsOf);
    rows.forEach((s) => addRoutesOf(s.id));
  };
  return { schedules, scheduleRuns: runs, seedSchedules: seed };
}
