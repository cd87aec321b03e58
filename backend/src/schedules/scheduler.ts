// The scheduler: every few seconds (Z4J_SCHEDULER_INTERVAL) it claims the enabled schedules that
// are due and sends each once. The claim is one transaction: the due rows are locked (rows
// another replica holds are skipped, not waited for), moved to their next time after now, and
// a run is recorded for each, 'sending'. Only after the commit is anything sent, so however many
// replicas run it, a due time fires at most once; a replica that dies between the commit and
// the send leaves its runs 'sending' (never sent twice). A service that was down fires each
// schedule once on its return, for the latest due time, counting the times it skipped. A row
// whose times cannot be computed (a cron or time zone this croner no longer reads) is not left
// to fail every claim: it gets a failed run saying why and is disabled, the others go on.
import type { Db, Queryable } from '../db/db.js';
import type { Logger } from '../logger.js';
import { dueAt } from './cron.js';
import { failAbandonedRuns } from './runs.js';
import type { PendingRun, ScheduleSender } from './send.js';
import { databaseNow, SENDABLE_COLUMNS, type Sendable } from './store.js';

export interface SchedulerOptions {
  /** Most schedules claimed in one transaction. */
  batch?: number;
  /** The clock (tests); else the database's, one for every replica (databaseNow). */
  now?: () => number;
  /** Where a schedule disabled for an unreadable cron or zone is logged. */
  log?: Logger;
}

// Found by the partial index schedules_due (migration 0027): its predicate repeated for the
// planner. A deleted project's schedules never fire (projects.deleted_at: the API's delete).
const DUE_SQL = `
SELECT ${SENDABLE_COLUMNS}, s.cron, s.timezone, s.next_run_at AS "nextRunAt"
  FROM schedules s JOIN projects p ON p.id = s.project_id
 WHERE s.enabled AND s.next_run_at <= $1::timestamptz AND p.deleted_at IS NULL
 ORDER BY s.next_run_at
 LIMIT $2
   FOR UPDATE OF s SKIP LOCKED`;

const MOVE_SQL = `
UPDATE schedules s SET next_run_at = u.next
  FROM json_to_recordset($1::json) AS u(id text, next timestamptz)
 WHERE s.id = u.id`;

// The unreadable ones (the CHECK of migration 0027: disabled means no next_run_at).
const DISABLE_SQL = `
UPDATE schedules SET enabled = false, next_run_at = NULL, updated_at = $2::timestamptz, updated_by = 'system:scheduler'
 WHERE id IN (SELECT json_array_elements_text($1::json))`;

const RUNS_SQL = `
INSERT INTO schedule_runs (schedule_id, project_id, trigger, due_at, fired_at, state, missed, error)
SELECT u.id, u.project, 'cron', u.due, $2::timestamptz, u.state, u.missed, u.error
  FROM json_to_recordset($1::json) AS u(id text, project int, due timestamptz, missed int, state text, error text)
RETURNING id::text AS "runId", schedule_id AS "scheduleId", state`;

type Due = Sendable & { cron: string; timezone: string; nextRunAt: Date };

/** What one claim took: the runs to send, and how many due rows it claimed in all (some may have failed at once). */
export interface Claim {
  pending: PendingRun[];
  claimed: number;
}

/** One transaction: claims at most `batch` due schedules and records their runs. */
export async function claimDueRuns(db: Db, opts: SchedulerOptions = {}): Promise<Claim> {
  return db.transaction(async (tx: Queryable) => {
    const now = opts.now ? new Date(opts.now()) : await databaseNow(tx);
    const due = (await tx.query<Due>(DUE_SQL, [now.toISOString(), opts.batch ?? 100])).rows;
    if (!due.length) return { pending: [], claimed: 0 };
    // Each row on its own: one that throws must not roll back (and so block) every other one.
    const times: (Pick<Due, 'id' | 'projectId'> & { due: Date; missed: number; next: Date | null; error: string | null })[] = due.map((s) => {
      try {
        const d = dueAt(s.cron, s.timezone, new Date(s.nextRunAt), now);
        return { id: s.id, projectId: s.projectId, due: d.dueAt, missed: d.missed, next: d.next, error: null };
      } catch (err) {
        const message = String((err as Error)?.message ?? err).slice(0, 500);
        opts.log?.warn({ schedule: s.id, err: message }, 'schedule disabled: its cron or time zone can no longer be read');
        return { id: s.id, projectId: s.projectId, due: new Date(s.nextRunAt), missed: 0, next: null, error: `its cron or time zone can no longer be read: ${message}; disabled` };
      }
    });
    const ok = times.filter((t) => !t.error);
    const broken = times.filter((t) => t.error);
    if (ok.length) await tx.query(MOVE_SQL, [JSON.stringify(ok.map((t) => ({ id: t.id, next: t.next?.toISOString() ?? null })))]);
    if (broken.length) await tx.query(DISABLE_SQL, [JSON.stringify(broken.map((t) => t.id)), now.toISOString()]);
    const runs = (await tx.query<{ runId: string; scheduleId: string; state: string }>(RUNS_SQL, [
      JSON.stringify(times.map((t) => ({ id: t.id, project: t.projectId, due: t.due.toISOString(), missed: t.missed, state: t.error ? 'failed' : 'sending', error: t.error }))), now.toISOString(),
    ])).rows;
    const byId = new Map(due.map((s) => [s.id, s]));
    const pending = runs.filter((r) => r.state === 'sending').map((r) => {
      const { cron: _c, timezone: _t, nextRunAt: _n, ...schedule } = byId.get(r.scheduleId)!;
      return { runId: r.runId, schedule, requestedBy: null };
    });
    return { pending, claimed: due.length };
  });
}

/**
 * The loop: a round claims and sends while the last claim was a full batch (at most `maxPasses`
 * claims), so a backlog is worked off in bounded steps. A failed round is logged and the next
 * one tries again; `stop` waits for the round under way, so nothing is sent after it returns.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly sender: ScheduleSender,
    private readonly log: Logger,
    private readonly opts: SchedulerOptions & { maxPasses?: number } = {},
  ) {}

  /** Runs a round every `seconds` (0: never). */
  start(seconds: number): void {
    if (seconds <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.round) return; // a slow round is not joined by another
      this.round = this.runOnce().then(
        () => undefined,
        (err) => this.log.warn({ err: String(err) }, 'scheduler round failed; will try again'),
      ).finally(() => { this.round = null; });
    }, seconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
  }

  /** One round; returns how many runs it sent (or tried to). */
  async runOnce(): Promise<number> {
    const batch = this.opts.batch ?? 100;
    // Runs failed without a send (abandoned by a crash, or an unreadable cron) count as failed
    // runs too: the metric is where an alert on failing schedules looks.
    this.sender.countFailed(await failAbandonedRuns(this.db, this.opts.now ? new Date(this.opts.now()) : undefined));
    let fired = 0;
    for (let pass = 0; pass < (this.opts.maxPasses ?? 10); pass++) {
      const { pending, claimed } = await claimDueRuns(this.db, { log: this.log, ...this.opts, batch });
      this.sender.countFailed(claimed - pending.length);
      // Sent together: one slow broker does not hold the others' schedules back a whole batch.
      await Promise.all(pending.map((r) => this.sender.send(r).catch((err) => this.log.warn({ schedule: r.schedule.id, run: r.runId, err: String(err) }, 'schedule run not recorded'))));
      fired += pending.length;
      // A full claim may leave more due, even when some of it failed at once (a short batch of sends).
      if (claimed < batch) break;
    }
    return fired;
  }
}
