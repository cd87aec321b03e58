import { z } from 'zod';
import { ENGINES } from '../../ingest/envelope.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { projectOf } from '../project.js';

const query = z.object({ engine: z.enum(ENGINES).optional() }).loose();

// A worker is alive while it has said so recently: three heartbeat periods, at least 10 s.
export const listWorkers = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine } = query.parse(req.query);
  const project = await projectOf(ctx, req);
  const rows = await ctx.db.query(
    `SELECT engine, hostname,
            online AND last_seen_at > now() - make_interval(secs => greatest(coalesce(heartbeat_s, 2) * 3, 10)) AS online,
            first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt", offline_at AS "offlineAt",
            heartbeat_s AS "heartbeatS", active, processed::float8 AS processed, loadavg, pid, software
       FROM workers WHERE project_id = $1 AND ($2::text IS NULL OR engine = $2)
      ORDER BY engine, hostname`,
    [project.id, engine ?? null],
  );
  res.json({ workers: rows.rows });
};
