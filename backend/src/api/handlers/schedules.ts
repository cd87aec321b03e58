// Schedules (docs/schedules.md): list and read (Viewer), create, change and delete (Admin),
// enable and disable (Operator). Each write is audited in its own transaction.
import type { Request, Response } from 'express';
import { z } from 'zod';
import { auditRequest } from '../../audit/record.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import { sqlState } from '../../db/db.js';
import { ENGINES } from '../../ingest/envelope.js';
import { validateCron, validateTimezone } from '../../schedules/cron.js';
import { requireKnownTaskName } from '../../schedules/taskNames.js';
import { createSchedule, deleteSchedule, getSchedule, listSchedules, updateSchedule, type Schedule, type ScheduleFields } from '../../schedules/store.js';
import type { ApiContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { pageParams } from '../keyset.js';
import type { Handler } from '../routes.js';
import { callerLabel, idParam } from './identity.js';

/** How deep a schedule's args and kwargs may nest: deeper than any real call, and well within what sealing, redaction and RQ's pickle can walk. */
export const MAX_CALL_DEPTH = 32;

/**
 * What is wrong with a call's JSON value, or null: nested past MAX_CALL_DEPTH (a 10,000-deep
 * list would break the sealing's JSON.stringify: a 500, not a 400), or a number JSON cannot
 * carry (1e400 parses as Infinity, which would be stored as null). Walked without recursion.
 */
export function callShapeProblem(value: unknown): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return 'a number too large for JSON (pass it as a string)';
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_CALL_DEPTH) return `nested deeper than ${MAX_CALL_DEPTH} levels`;
    for (const x of Array.isArray(v) ? v : Object.values(v)) stack.push([x, depth + 1]);
  }
  return null;
}

const callShape = <T extends z.ZodType>(schema: T) => schema.superRefine((v, ctx) => {
  const problem = callShapeProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const field = {
  name: z.string().trim().min(1).max(200),
  taskName: z.string().trim().min(1).max(255),
  args: callShape(z.array(z.unknown())),
  kwargs: callShape(z.record(z.string(), z.unknown())),
  queue: z.string().trim().min(1).max(255).nullable(),
  cron: z.string().max(200),
  timezone: z.string().max(100),
  enabled: z.boolean(),
};

const createBody = z.strictObject({
  name: field.name,
  engine: z.enum(ENGINES),
  taskName: field.taskName,
  args: field.args.default([]),
  kwargs: field.kwargs.default({}),
  queue: field.queue.default(null),
  cron: field.cron,
  timezone: field.timezone.default('UTC'),
  enabled: field.enabled.default(true),
});

const patchBody = z.strictObject({
  name: field.name.optional(),
  taskName: field.taskName.optional(),
  args: field.args.optional(),
  kwargs: field.kwargs.optional(),
  queue: field.queue.optional(),
  cron: field.cron.optional(),
  timezone: field.timezone.optional(),
  enabled: field.enabled.optional(),
});

const listQuery = z.strictObject({ project: z.string().optional(), ...pageParams });

export const notFoundId = (id: string) => notFound(`schedule ${id}`, 'SCHEDULE_NOT_FOUND');

/** The schedule named in the path, or 404 SCHEDULE_NOT_FOUND. */
export async function scheduleOf(ctx: ApiContext, req: Request, res: Response): Promise<Schedule> {
  const id = idParam.parse(req.params.id);
  const s = await getSchedule(ctx.db, projectOfAuth(res).id, id);
  if (!s) throw notFoundId(id);
  return s;
}

/** A name another schedule of the project has: 409 (the unique violation of (project_id, name)). */
async function nameFree<T>(name: string | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (sqlState(err) === '23505') throw new ApiError(409, 'SCHEDULE_NAME_TAKEN', `another schedule of this project is named ${JSON.stringify(name)}`);
    throw err;
  }
}

/** What the audit row of a schedule says about it: all but the call (whose display copy is in the schedule). */
const auditView = (s: Schedule) => ({ name: s.name, engine: s.engine, taskName: s.taskName, queue: s.queue, cron: s.cron, timezone: s.timezone, enabled: s.enabled });

export const listSchedulesHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const page = await listSchedules(ctx.db, projectOfAuth(res).id, listQuery.parse(req.query));
  res.json({ schedules: page.rows, nextCursor: page.nextCursor });
};

export const getScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  res.json({ schedule: await scheduleOf(ctx, req, res) });
};

export const createScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const body = createBody.parse(req.body);
  const f: ScheduleFields = { ...body, cron: validateCron(body.cron), timezone: validateTimezone(body.timezone) };
  const refusal = ctx.actions.sendRefusal(f.engine, p.slug);
  if (refusal) throw new ApiError(400, refusal.code, refusal.message);
  await requireKnownTaskName(ctx.db, p.id, f.engine, f.taskName);
  const schedule = await nameFree(f.name, () => ctx.db.transaction(async (tx) => {
    const s = await createSchedule(tx, ctx.sealer, p.id, f, callerLabel(authOf(res).caller));
    await auditRequest(ctx, req, res, { action: 'schedule.create', target: `schedule:${s.id}`, detail: auditView(s) }, tx);
    return s;
  }));
  res.status(201).json({ schedule });
};

/** Applies `patch` and audits it as `action`; the schedule after. */
async function changeSchedule(ctx: ApiContext, req: Request, res: Response, action: string, patch: z.infer<typeof patchBody>): Promise<Schedule> {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.id);
  const checked = {
    ...patch,
    ...(patch.cron !== undefined ? { cron: validateCron(patch.cron) } : {}),
    ...(patch.timezone !== undefined ? { timezone: validateTimezone(patch.timezone) } : {}),
  };
  return nameFree(patch.name, () => ctx.db.transaction(async (tx) => {
    const changed = await updateSchedule(tx, ctx.sealer, p.id, id, checked, callerLabel(authOf(res).caller));
    if (!changed) throw notFoundId(id);
    const { before, after } = changed;
    if (patch.taskName !== undefined) await requireKnownTaskName(tx, p.id, after.engine, after.taskName); // rolls the change back
    const callChanged = patch.args !== undefined || patch.kwargs !== undefined;
    await auditRequest(ctx, req, res, { action, target: `schedule:${id}`, detail: { from: auditView(before), to: auditView(after), ...(callChanged ? { callChanged } : {}) } }, tx);
    return after;
  }));
}

export const updateScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  res.json({ schedule: await changeSchedule(ctx, req, res, 'schedule.update', patchBody.parse(req.body ?? {})) });
};

export const enableScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  res.json({ schedule: await changeSchedule(ctx, req, res, 'schedule.enable', { enabled: true }) });
};

export const disableScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  res.json({ schedule: await changeSchedule(ctx, req, res, 'schedule.disable', { enabled: false }) });
};

export const deleteScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.id);
  await ctx.db.transaction(async (tx) => {
    const s = await deleteSchedule(tx, p.id, id);
    if (!s) throw notFoundId(id);
    await auditRequest(ctx, req, res, { action: 'schedule.delete', target: `schedule:${id}`, detail: auditView(s) }, tx);
  });
  res.status(204).end();
};
