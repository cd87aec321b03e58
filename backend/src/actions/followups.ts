// A queue action's task events (a purge's revocations, a requeue's enqueues), kept in the
// database until the pipeline has committed them. A purge of a million messages takes the
// pipeline about a minute: held in memory, its events were lost with a service stopped (or
// killed) meanwhile, and those tasks stayed enqueued in the explorer for ever. Written before
// the command answers, they are recorded by whichever service runs next, on any replica.
import type { Db } from '../db/db.js';
import type { Logger } from '../logger.js';

/** Offers events to the pipeline, calling `done` once per event when it is committed (or set aside). */
export type OfferEvents = (candidates: readonly Record<string, unknown>[], done: () => void, signal: AbortSignal) => Promise<void>;

export interface FollowupTask {
  taskId: string;
  /** The attempt the event is of: a requeued dead letter's next run, the one a purge's mark found waiting. */
  attempt?: number;
}

export interface Followup {
  commandId: number;
  kind: 'revoked' | 'enqueued';
  /** When the action began: a requeued task may start before the broker's reply reaches us. */
  occurredAt: number;
  /** What every task's event says (queue, reason, …). */
  fields: Record<string, unknown>;
  tasks: readonly FollowupTask[];
}

/** Tasks a row holds: a row is what one replica records at a time, ~0.5 MB of ids at most. */
export const ROW_TASKS = 10_000;
/** How long a claimed row is a replica's before another may take it (a crashed one's). */
const CLAIM_S = 60;
const RENEW_MS = 20_000;

interface Row {
  id: string;
  commandId: string;
  engine: string;
  project: string;
  kind: Followup['kind'];
  at: number;
  fields: Record<string, unknown>;
  firstIndex: number;
  taskIds: string[];
  attempts: number[] | null;
}

export class ActionFollowups {
  private draining: Promise<void> | null = null;
  /** Asked to drain while a drain was under way: one more round then, for rows it may have missed. */
  private again = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly offer: OfferEvents,
    private readonly log: Logger,
  ) {}

  /** Writes a queue action's events to be recorded, then starts recording them. */
  async add(followup: Followup): Promise<void> {
    const { commandId, kind, occurredAt, fields, tasks } = followup;
    if (!tasks.length) return;
    await this.db.transaction(async (tx) => {
      for (let first = 0; first < tasks.length; first += ROW_TASKS) {
        const slice = tasks.slice(first, first + ROW_TASKS);
        const attempts = slice.some((t) => t.attempt !== undefined) ? slice.map((t) => t.attempt ?? 0) : null;
        await tx.query(
          `INSERT INTO command_followups (command_id, kind, occurred_at, fields, first_index, task_ids, attempts)
           VALUES ($1, $2, to_timestamp($3 / 1000.0), $4, $5, $6, $7)`,
          [commandId, kind, occurredAt, JSON.stringify(fields), first, slice.map((t) => t.taskId), attempts],
        );
      }
    });
    this.drain();
  }

  /**
   * Records every row no replica holds, one after the other; a call while that runs makes it
   * look once more when done. The service calls it at start and every while (rows a crashed
   * replica held come free after CLAIM_S).
   */
  drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        let row: Row | null;
        while (!this.stopping.signal.aborted && (row = await this.claim())) await this.record(row);
      } while (this.again && !this.stopping.signal.aborted);
    })()
      .catch((err) => this.log.warn({ err: String(err) }, 'could not record the task events of a queue action; retried later'))
      .finally(() => (this.draining = null));
    return this.draining;
  }

  /** Resolves once nothing is being recorded (what a purge wrote is then committed: tests). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Stops recording; a row under way is left for the next service, which records it (events already committed are not repeated). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  private async claim(): Promise<Row | null> {
    const { rows } = await this.db.query<Row>(
      `UPDATE command_followups f SET claimed_until = now() + make_interval(secs => $1)
         FROM commands c JOIN projects p ON p.id = c.project_id
        WHERE f.id = (SELECT id FROM command_followups WHERE claimed_until IS NULL OR claimed_until < now() ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND c.id = f.command_id
        RETURNING f.id, f.command_id AS "commandId", c.engine, p.slug AS project, f.kind,
                  round(extract(epoch FROM f.occurred_at) * 1000)::float8 AS at, f.fields,
                  f.first_index AS "firstIndex", f.task_ids AS "taskIds", f.attempts`,
      [CLAIM_S],
    );
    return rows[0] ?? null;
  }

  /** Offers the row's events and deletes it once all are committed; gives it back if the service stops first. */
  private async record(row: Row): Promise<void> {
    const events = row.taskIds.map((taskId, i) => ({
      v: 1, type: 'task', id: `z4j-command-${row.commandId}-${row.kind}-${row.firstIndex + i}`, engine: row.engine, project: row.project,
      kind: row.kind, taskId, occurredAt: row.at, fields: row.attempts ? { ...row.fields, retries: row.attempts[i] } : row.fields,
    }));
    let left = events.length;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const done = () => {
      left--;
      if (left === 0) settle();
    };
    const onStop = () => settle();
    const signal = this.stopping.signal;
    signal.addEventListener('abort', onStop, { once: true });
    const renew = setInterval(() => {
      this.db.query(`UPDATE command_followups SET claimed_until = now() + make_interval(secs => $2) WHERE id = $1`, [row.id, CLAIM_S])
        .catch((err) => this.log.warn({ err: String(err) }, "could not renew the claim on a queue action's task events"));
    }, RENEW_MS);
    try {
      if (!signal.aborted) {
        await this.offer(events, done, signal);
        await settled;
      }
      if (left === 0) await this.db.query('DELETE FROM command_followups WHERE id = $1', [row.id]);
      else await this.db.query('UPDATE command_followups SET claimed_until = NULL WHERE id = $1', [row.id]);
    } finally {
      clearInterval(renew);
      signal.removeEventListener('abort', onStop);
    }
  }
}
