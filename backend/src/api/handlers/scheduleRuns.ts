// A schedule's runs: "run now" (Operator; recorded and audited, then sent at once), the list of
// its runs (Viewer), and the preview of a cron's next times (Viewer, nothing stored).
import { z } from 'zod';
import { auditRequest } from '../../audit/record.js';
import { actorName, authOf, projectOfAuth } from '../../auth/caller.js';
import { nextTimes, validateCron, validateTimezone } from '../../schedules/cron.js';
import { getRun, insertManualRun, listRuns } from '../../schedules/runs.js';
import { keyOf } from './actions.js';
import { databaseNow, getSendable } from '../../schedules/store.js';
import type { ApiContext } from '../context.js';
import { pageParams } from '../keyset.js';
import type { Handler } from '../routes.js';
import { idParam } from './identity.js';
import { notFoundId, scheduleOf } from './schedules.js';

const runsQuery = z.strictObject({ project: z.string().optional(), ...pageParams });
const previewBody = z.strictObject({ cron: z.string().max(200), timezone: z.string().max(100).default('UTC'), count: z.number().int().min(1).max(20).default(5) });

export const runScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.id);
  const key = keyOf(req);
  const by = actorName(authOf(res).caller); // as commands and the audit log name who acted
  const pending = await ctx.db.transaction(async (tx) => {
    const schedule = await getSendable(tx, p.id, id);
    if (!schedule) throw notFoundId(id);
    const run = await insertManualRun(tx, p.id, id, by, key);
    await auditRequest(ctx, req, res, { action: 'schedule.run', target: `schedule:${id}`, detail: { name: schedule.name, runId: run.id, ...(run.created ? {} : { repeated: true }) } }, tx);
    return { runId: run.id, schedule, requestedBy: by, created: run.created };
  });
  // A repeated request (the same Idempotency-Key) sends nothing: 200 with the first request's run, as actions answer.
  if (!pending.created) {
    res.status(200).json({ run: await getRun(ctx.db, pending.runId) });
    return;
  }
  res.status(202).json({ run: await ctx.schedules.send(pending) });
};

export const listRunsHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const page = runsQuery.parse(req.query);
  const s = await scheduleOf(ctx, req, res);
  const runs = await listRuns(ctx.db, projectOfAuth(res).id, s.id, page);
  res.json({ runs: runs.rows, nextCursor: runs.nextCursor });
};

/** The next times from the database's time: the one a schedule made now would start from (createSchedule). */
export const previewScheduleHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const body = previewBody.parse(req.body ?? {});
  const cron = validateCron(body.cron);
  const timezone = validateTimezone(body.timezone);
  const next = nextTimes(cron, timezone, await databaseNow(ctx.db), body.count);
  res.json({ next: next.map((t) => t.toISOString()) });
};
