import { z } from 'zod';
import { ENGINES } from '../../ingest/envelope.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { projectOf } from '../project.js';

const query = z.strictObject({ engine: z.enum(ENGINES).optional(), project: z.string().optional() });

export const listQueues = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine } = query.parse(req.query);
  const project = await projectOf(ctx, req);
  const rows = await ctx.reads.query(
    `SELECT engine, name, first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt",
            depth::float8 AS depth, depth_at AS "depthAt"
       FROM queues WHERE project_id = $1 AND ($2::text IS NULL OR engine = $2)
      ORDER BY engine, name`,
    [project.id, engine ?? null],
  );
  res.json({ queues: rows.rows });
};
