// Bulk retry and bulk cancel over the explorer's filters: a preview (how many, which engines,
// a sample), then a job walked in chunks by a background runner. Every task it touches gets an
// ordinary command keyed by (job, task), so a chunk re-run after a restart acts on nothing twice,
// and progress and per-task outcomes are simply the job's commands.
import { hostname } from 'node:os';
import { z } from 'zod';
import { listTasks, listTasksQuery, taskFilterSql, type ListTasksQuery } from '../api/taskQueries.js';
import { isoTimeSql, type Db } from '../db/db.js';
import { can } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import type { Logger } from '../logger.js';
import { scrub } from '../redact/redact.js';
import { ActionRefused, type ActionService } from './actionService.js';
import type { AuditActor } from '../audit/chain.js';
import { auditSettled, COMMAND_COLUMNS, type Command, type SettledAudit } from './commands.js';

export const BULK_ACTIONS = ['retry', 'cancel'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** The explorer's filters, as the explorer sends them (strings, comma-separated lists). */
export const bulkFilters = listTasksQuery.omit({ limit: true, cursor: true, project: true });
export type BulkFilters = z.infer<typeof bulkFilters>;

export interface BulkJob {
  id: number;
  action: BulkAction;
  filters: Record<string, unknown>;
  state: 'running' | 'succeeded' | 'cancelled' | 'failed';
  total: number;
  message: string | null;
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
  /** Commands made so far, by state. */
  progress: { done: number; succeeded: number; failed: number; pending: number; skipped: number };
}

const JOB_COLUMNS = `j.id::int AS id, j.action, j.filters, j.state, j.total, j.message, j.requested_by AS "requestedBy",
  ${isoTimeSql('j.created_at')} AS "createdAt", ${isoTimeSql('j.updated_at')} AS "updatedAt"`;

/** Filters frozen at `asOf`: tasks that appear later (the retries themselves, for one) are not part of the job. */
function frozen(filters: BulkFilters, asOf: Date): Omit<ListTasksQuery, 'limit'> {
  const limit = new Date(asOf.getTime() + 1);
  return { ...filters, to: filters.to && filters.to < limit ? filters.to : limit };
}

/** Stored filters are the raw strings the user sent; parsing them again gives the same query. */
const storedFilters = (raw: Record<string, unknown>) => bulkFilters.parse(raw);

export class BulkActions {
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(
    private readonly db: Db,
    private readonly actions: ActionService,
    private readonly log: Logger,
    readonly maxTasks: number,
    private readonly chunkSize = 50,
    /** Where each task's command is audited once it ended (those still dispatched: by the reconciler, as it settles them). */
    private readonly audit?: SettledAudit,
  ) {}

  /** How many tasks match (up to the cap + 1), per engine, whether each engine can do it, and a sample. */
  async preview(projectId: number, action: BulkAction, raw: Record<string, unknown>, asOf = new Date()) {
    const q = frozen(bulkFilters.parse(raw), asOf);
    const { where, params } = taskFilterSql(projectId, q);
    params.push(this.maxTasks + 1);
    const counts = (await this.db.query<{ engine: Engine; n: number }>(
      `SELECT engine, count(*)::int AS n FROM (SELECT t.engine FROM tasks t WHERE ${where.join(' AND ')} LIMIT $${params.length}) m GROUP BY engine ORDER BY engine`,
      params,
    )).rows;
    const count = counts.reduce((a, c) => a + c.n, 0);
    const sample = (await listTasks(this.db, projectId, { ...q, limit: 10 })).tasks;
    return {
      action,
      count: Math.min(count, this.maxTasks),
      overCap: count > this.maxTasks,
      maxTasks: this.maxTasks,
      engines: counts.map((c) => ({ engine: c.engine, count: c.n, supported: can(this.actions.drivers.get(c.engine), `task.${action}`) })),
      sample,
    };
  }

  /** Starts a job, or returns the one this idempotency key already started (`created: false`). */
  async start(projectId: number, action: BulkAction, raw: Record<string, unknown>, requestedBy: string, idempotencyKey: string): Promise<{ job: BulkJob; created: boolean }> {
    const seen = await this.startedBefore(projectId, action, raw, idempotencyKey);
    if (seen) return seen;
    const asOf = new Date();
    const p = await this.preview(projectId, action, raw, asOf);
    if (p.overCap) throw new ActionRefused(422, 'TOO_MANY_TASKS', `more than ${this.maxTasks} tasks match: narrow the filters (e.g. a time range)`);
    if (p.count === 0) throw new ActionRefused(422, 'NO_TASKS', 'no task matches these filters');
    const id = (await this.db.query<{ id: number }>(
      `INSERT INTO bulk_jobs (project_id, action, filters, as_of, state, total, requested_by, idempotency_key)
       VALUES ($1, $2, $3::jsonb, $4, 'running', $5, $6, $7)
       ON CONFLICT (project_id, idempotency_key) DO NOTHING
       RETURNING id::int AS id`,
      [projectId, action, JSON.stringify(raw), asOf, p.count, requestedBy, idempotencyKey],
    )).rows[0]?.id;
    if (id !== undefined) return { job: (await this.get(projectId, id))!, created: true };
    // The same key started a job meanwhile (a client's retry that reached another replica): that
    // job, if it is this request's, never a second one, nor another request's taken for this one.
    return (await this.startedBefore(projectId, action, raw, idempotencyKey))!;
  }

  /** The job this idempotency key started, if any; refused when the key started a different one. */
  private async startedBefore(projectId: number, action: BulkAction, raw: Record<string, unknown>, idempotencyKey: string): Promise<{ job: BulkJob; created: false } | null> {
    const seen = (await this.db.query<{ id: number; action: string; filters: Record<string, unknown> }>(
      'SELECT id::int AS id, action, filters FROM bulk_jobs WHERE project_id = $1 AND idempotency_key = $2', [projectId, idempotencyKey],
    )).rows[0];
    if (!seen) return null;
    if (seen.action !== action || JSON.stringify(storedFilters(seen.filters)) !== JSON.stringify(bulkFilters.parse(raw))) {
      throw new ActionRefused(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for a different bulk action');
    }
    return { job: (await this.get(projectId, seen.id))!, created: false };
  }

  async get(projectId: number, id: number): Promise<BulkJob | null> {
    const job = (await this.db.query<Omit<BulkJob, 'progress'>>(`SELECT ${JOB_COLUMNS} FROM bulk_jobs j WHERE j.project_id = $1 AND j.id = $2`, [projectId, id])).rows[0];
    if (!job) return null;
    const rows = (await this.db.query<{ state: string; skipped: boolean; n: number }>(
      `SELECT state, coalesce(outcome->>'code' = 'UNSUPPORTED', false) AS skipped, count(*)::int AS n FROM commands WHERE bulk_id = $1 GROUP BY 1, 2`,
      [id],
    )).rows;
    const sum = (f: (r: { state: string; skipped: boolean }) => boolean) => rows.filter(f).reduce((a, r) => a + r.n, 0);
    return {
      ...job,
      progress: {
        done: sum(() => true),
        succeeded: sum((r) => r.state === 'succeeded'),
        failed: sum((r) => ['failed', 'timed_out'].includes(r.state) && !r.skipped),
        pending: sum((r) => ['pending', 'dispatched'].includes(r.state)),
        skipped: sum((r) => r.skipped),
      },
    };
  }

  /** Per-task outcomes, oldest first, paged by command id. */
  async outcomes(projectId: number, id: number, after: number, limit: number): Promise<Command[]> {
    return (await this.db.query<Command>(
      `SELECT ${COMMAND_COLUMNS} FROM commands WHERE project_id = $1 AND bulk_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
      [projectId, id, after, limit],
    )).rows;
  }

  async cancel(projectId: number, id: number): Promise<BulkJob | null> {
    await this.db.query(`UPDATE bulk_jobs SET state = 'cancelled', message = 'stopped by a user', updated_at = now() WHERE project_id = $1 AND id = $2 AND state = 'running'`, [projectId, id]);
    return this.get(projectId, id);
  }

  /**
   * One chunk of one running job, under a short lease so replicas share the work and a crashed
   * runner's job is picked up again. Returns false when there was nothing to do.
   */
  async runOnce(): Promise<boolean> {
    const job = (await this.db.query<{ id: number; projectId: number; slug: string; action: BulkAction; filters: Record<string, unknown>; asOf: Date; cursor: string | null; requestedBy: string }>(
      `UPDATE bulk_jobs j SET lease_owner = $1, lease_until = now() + interval '60 seconds'
         FROM projects p
        WHERE j.id = (SELECT id FROM bulk_jobs WHERE state = 'running' AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1)
                       ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND p.id = j.project_id
        RETURNING j.id::int AS id, j.project_id AS "projectId", p.slug, j.action, j.filters, j.as_of AS "asOf", j.cursor, j.requested_by AS "requestedBy"`,
      [this.owner],
    )).rows[0];
    if (!job) return false;
    try {
      const q = frozen(storedFilters(job.filters), new Date(job.asOf));
      const page = await listTasks(this.db, job.projectId, { ...q, cursor: job.cursor ?? undefined, limit: this.chunkSize });
      const actor = { kind: 'system' as const, id: `bulk:${job.id}`, name: `bulk ${job.action} ${job.id} of ${job.requestedBy}` };
      for (const t of page.tasks as { engine: Engine; taskId: string }[]) {
        const who = { projectId: job.projectId, projectSlug: job.slug, idempotencyKey: `bulk:${job.id}:${t.engine}:${t.taskId}`, requestedBy: job.requestedBy, bulkId: job.id };
        const { command, created } = await this.actions.taskAction(t.engine, t.taskId, job.action, who).catch(async (err) => {
          // An engine that cannot do it still gets a command: the per-task outcome says why.
          if (err instanceof ActionRefused) return this.actions.refused(t.engine, t.taskId, `task.${job.action}`, who, err);
          throw err;
        });
        if (command.state !== 'pending' && command.state !== 'dispatched') await this.auditOnce(command, job.projectId, actor);
      }
      const finished = page.nextCursor === null;
      // Only while the lease is still this runner's: a chunk that outlived it was taken over,
      // and the runner that has it now must not see its cursor moved back, its lease cleared.
      const kept = await this.db.query(
        `UPDATE bulk_jobs SET cursor = $2, state = CASE WHEN $3 AND state = 'running' THEN 'succeeded' ELSE state END,
                lease_owner = NULL, lease_until = NULL, updated_at = now() WHERE id = $1 AND lease_owner = $4 RETURNING id`,
        [job.id, page.nextCursor, finished, this.owner],
      );
      if (!kept.rows.length) this.log.warn({ bulk: job.id }, 'bulk chunk outlived its lease; another runner has the job, its progress kept');
    } catch (err) {
      this.log.warn({ bulk: job.id, err: String(err) }, 'bulk chunk failed; will try again');
      // Viewers read the job's message: scrubbed (an error can quote a broker URL with its password).
      const message = (scrub(String((err as Error)?.message ?? err)) as string).slice(0, 200);
      await this.db.query(
        `UPDATE bulk_jobs SET lease_until = now() + interval '5 seconds', message = $2, updated_at = now() WHERE id = $1 AND lease_owner = $3`,
        [job.id, `last chunk failed: ${message}`, this.owner],
      );
    }
    return true;
  }

  /**
   * Audits an ended command of the job unless it has its row: the mark and the row are written
   * together, so a chunk walked again (its last append failed, the runner crashed) neither skips
   * nor repeats a row. Those the reconciler settled it audited, and marked, itself.
   */
  private async auditOnce(command: Command, projectId: number, actor: AuditActor): Promise<void> {
    if (!this.audit) return;
    await this.db.transaction(async (tx) => {
      const unaudited = await tx.query('UPDATE commands SET audited = true WHERE id = $1 AND NOT audited RETURNING id', [command.id]);
      if (!unaudited.rows.length) return;
      const message = typeof command.outcome?.message === 'string' ? command.outcome.message : null;
      await auditSettled(this.audit, [{ id: command.id, projectId, kind: command.kind, engine: command.engine, target: command.target, state: command.state, message }], actor, tx);
    });
  }

  /** Runs chunks until there is no running job left (tests; the service calls runOnce on a timer). */
  async drain(): Promise<void> {
    while (await this.runOnce());
  }
}
