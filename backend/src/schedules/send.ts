// Sends a recorded schedule run: the schedule's exact call as a new task, the way a retry from
// z4j sends one (ActionService.sendCall: the engine's driver straight to the broker, or the
// agent command channel), then records where it got to in the run.
import { randomUUID } from 'node:crypto';
import { ActionRefused, type ActionService } from '../actions/actionService.js';
import { auditTarget, SCHEDULE_RUN_KIND, type Command, type SettledAudit } from '../actions/commands.js';
import type { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { scrub } from '../redact/redact.js';
import { finishRun, getRun, type RunState, type ScheduleRun } from './runs.js';
import { openCall, type Sendable } from './store.js';
import { taskNameRefusal } from './taskNames.js';

/** A run recorded 'sending', and who asked for it (null: its cron). */
export interface PendingRun {
  runId: string;
  schedule: Sendable;
  requestedBy: string | null;
}

/** The run state a command's state stands for. */
const RUN_STATE: Record<Command['state'], Exclude<RunState, 'sending'>> = { pending: 'dispatched', dispatched: 'dispatched', succeeded: 'sent', failed: 'failed', timed_out: 'failed' };

export class ScheduleSender {
  constructor(
    private readonly db: Db,
    private readonly actions: ActionService,
    private readonly sealer: Sealer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Where a cron run is audited (a run now is, by its request); optional so tests can leave it out. */
    private readonly audit?: SettledAudit,
  ) {}

  /** Sends the run and records its outcome; never throws for the engine's refusal (the run says it). */
  async send(p: PendingRun): Promise<ScheduleRun> {
    const s = p.schedule;
    const taskId = randomUUID();
    let outcome: Parameters<typeof finishRun>[2];
    try {
      // Checked again as it is sent: the API checked the name when it was set.
      const refusal = await taskNameRefusal(this.db, s.projectId, s.engine, s.taskName);
      if (refusal) throw new ActionRefused(422, 'UNKNOWN_TASK', refusal);
      const call = openCall(this.sealer, s.projectId, s.id, s.sealed);
      const reason = p.requestedBy ? `schedule ${s.name} (run now by ${p.requestedBy})` : `schedule ${s.name} (cron)`;
      const { command } = await this.actions.sendCall(s.engine, { name: s.taskName, args: call.args, kwargs: call.kwargs, queue: s.queue, options: {} }, taskId, {
        projectId: s.projectId, projectSlug: s.projectSlug, idempotencyKey: `schedule-run:${p.runId}`, requestedBy: p.requestedBy ?? `schedule:${s.name}`,
      }, { kind: SCHEDULE_RUN_KIND, target: s.id, reason });
      const state = RUN_STATE[command.state];
      const message = typeof command.outcome?.message === 'string' ? command.outcome.message : `the command ${command.state}`;
      outcome = { state, taskId: state === 'failed' ? null : taskId, commandId: command.id, error: state === 'failed' ? message : null };
    } catch (err) {
      if (!(err instanceof ActionRefused)) this.log.warn({ schedule: s.id, run: p.runId, err: String(err) }, 'schedule run failed');
      // Viewers read runs: an error can quote a URL with its password.
      outcome = { state: 'failed', taskId: null, commandId: null, error: scrub(String((err as Error)?.message ?? err)) as string };
    }
    await finishRun(this.db, p.runId, outcome);
    if (p.requestedBy === null) {
      // Nobody asked for it: the audit says the scheduler sent it, and how it went.
      await this.audit?.append({
        projectId: s.projectId, actor: { kind: 'system', id: null, name: 'scheduler' }, action: SCHEDULE_RUN_KIND, target: auditTarget({ kind: SCHEDULE_RUN_KIND, engine: s.engine, target: s.id }),
        outcome: outcome.state === 'failed' ? 'error' : 'ok',
        detail: { runId: p.runId, trigger: 'cron', state: outcome.state, taskId: outcome.taskId, commandId: outcome.commandId, error: outcome.error },
      });
    }
    this.metrics.scheduleRuns.inc({ state: outcome.state });
    return (await getRun(this.db, p.runId))!;
  }

  /** Runs that failed before a send was tried (the scheduler's: abandoned, or an unreadable cron). */
  countFailed(n: number): void {
    if (n > 0) this.metrics.scheduleRuns.inc({ state: 'failed' }, n);
  }
}
