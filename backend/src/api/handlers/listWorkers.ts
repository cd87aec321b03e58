import { z } from 'zod';
import { ENGINES } from '../../ingest/envelope.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { projectOf } from '../project.js';
import { WORKER_ALIVE_SQL } from '../workerLiveness.js';

const query = z.strictObject({
  engine: z.enum(ENGINES).optional(),
  project: z.string().optional(),
  // Workers come and go (a hostname per container): those offline for long are history, not the fleet.
  offlineDays: z.coerce.number().int().min(0).max(3650).default(7),
});
/** Most workers listed: the online ones first, then the most recently seen. */
const MAX_WORKERS = 2000;

// Failures per worker over the last day, from the tasks themselves (every engine, agent or not);
// walks the state index over that day's failures only, capped so a failure storm stays cheap.
const FAILED_SQL = `
SELECT engine, worker, count(*)::int AS failed FROM (
  SELECT t.engine, t.worker FROM tasks t
   WHERE t.project_id = $1 AND t.state = 'failed' AND t.first_seen_at > now() - interval '24 hours' AND t.worker IS NOT NULL
   LIMIT 100000) f
 GROUP BY engine, worker`;

// Online: alive by WORKER_ALIVE_SQL (the rule a task's workerGone uses too). An offline worker's
// tasks in flight are none it still runs: its last heartbeat's count is not shown (null).
export const listWorkers = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine, offlineDays } = query.parse(req.query);
  const project = await projectOf(ctx, req);
  const [rows, failed] = await Promise.all([
    ctx.reads.query<{ engine: string; hostname: string }>(
      `SELECT engine, hostname,
              ${WORKER_ALIVE_SQL} AS online,
              first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt", offline_at AS "offlineAt",
              heartbeat_s AS "heartbeatS", CASE WHEN ${WORKER_ALIVE_SQL} THEN active END AS active, processed::float8 AS processed, loadavg, pid, software,
              concurrency, dropped::float8 AS dropped, payloads_dropped::float8 AS "payloadsDropped"
         FROM workers w WHERE project_id = $1 AND ($2::text IS NULL OR engine = $2)
          AND (online OR last_seen_at > now() - make_interval(days => $3))
        ORDER BY online DESC, last_seen_at DESC
        LIMIT ${MAX_WORKERS + 1}`,
      [project.id, engine ?? null, offlineDays],
    ),
    ctx.reads.query<{ engine: string; worker: string; failed: number }>(FAILED_SQL, [project.id]),
  ]);
  // By engine and hostname: one host can run workers of two engines, each with its own failures.
  const failures = new Map(failed.rows.map((r) => [`${r.engine}\u0000${r.worker}`, r.failed]));
  const listed = rows.rows.slice(0, MAX_WORKERS).sort((a, b) => a.engine.localeCompare(b.engine) || a.hostname.localeCompare(b.hostname));
  res.json({ workers: listed.map((w) => ({ ...w, failed24h: failures.get(`${w.engine}\u0000${w.hostname}`) ?? 0 })), truncated: rows.rows.length > MAX_WORKERS });
};
