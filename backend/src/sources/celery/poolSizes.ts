// Celery's heartbeats say how many tasks a worker runs, not how many it can: its pool size comes
// from `celery inspect stats` (pool.max-concurrency), asked of each online worker when it first
// shows and again every 10 minutes (autoscale and pool_grow / pool_shrink change it).
import type { Db } from '../../db/db.js';
import type { CeleryBroker } from './broker.js';

const ASK_AGAIN_MS = 600_000;
/** How long the workers have to answer: the round waits for the slowest (a busy solo worker may never). */
const ANSWER_MS = 2000;
/** The most workers asked in one round. */
const MAX_ASKED = 500;

/**
 * The project's Celery workers heard from in the last minute, those without a known pool size
 * first (at most MAX_ASKED): whom a round of control requests asks (queues consumed, pool sizes).
 */
export async function onlineCeleryWorkers(db: Db, projectSlug: string): Promise<string[]> {
  return (await db.query<{ hostname: string }>(
    `SELECT w.hostname FROM workers w JOIN projects p ON p.id = w.project_id
      WHERE p.slug = $1 AND w.engine = 'celery' AND w.online AND w.last_seen_at > now() - interval '1 minute'
      ORDER BY w.concurrency IS NULL DESC, w.hostname LIMIT ${MAX_ASKED}`,
    [projectSlug],
  )).rows.map((r) => r.hostname);
}

export class CeleryPoolSizes {
  /** hostname → when it was last asked; only online workers are kept. */
  private readonly askedAt = new Map<string, number>();

  constructor(private readonly db: Db, private readonly projectSlug: string, private readonly brokers: readonly CeleryBroker[]) {}

  /** Asks the `online` workers (onlineCeleryWorkers) not asked in the last 10 minutes. */
  async sample(online: readonly string[], now = Date.now()): Promise<void> {
    if (!this.brokers.length) return;
    for (const hostname of this.askedAt.keys()) if (!online.includes(hostname)) this.askedAt.delete(hostname);
    const due = online.filter((hostname) => now - (this.askedAt.get(hostname) ?? -Infinity) >= ASK_AGAIN_MS);
    if (!due.length) return;
    for (const hostname of due) this.askedAt.set(hostname, now);
    const replies = (await Promise.all(this.brokers.map((b) => b.request('stats', {}, due, ANSWER_MS).catch(() => [])))).flat();
    const sizes = new Map<string, number>();
    for (const reply of replies) {
      for (const [hostname, stats] of Object.entries(reply)) {
        const size = (stats as { pool?: Record<string, unknown> } | null)?.pool?.['max-concurrency'];
        if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 && size < 2 ** 31 && due.includes(hostname)) sizes.set(hostname, size);
      }
    }
    if (!sizes.size) return;
    await this.db.query(
      `UPDATE workers w SET concurrency = u.size FROM projects p, unnest($2::text[], $3::int[]) AS u(hostname, size)
        WHERE p.slug = $1 AND w.project_id = p.id AND w.engine = 'celery' AND w.hostname = u.hostname`,
      [this.projectSlug, [...sizes.keys()], [...sizes.values()]],
    );
  }
}
