import { projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';

/** Liveness, for probes: answers without credentials, so it says nothing of what z4j observes. */
export const liveness = (ctx: ApiContext): Handler => async (_req, res) => {
  res.json({ status: 'ok', version: ctx.version, storage: ctx.db.storage });
};

/**
 * What the plugin's "Test connection" shows (a Viewer's): version, storage, engines reporting in
 * the caller's project (a Viewer of one project learns nothing of what another one runs).
 */
export const health = (ctx: ApiContext): Handler => async (_req, res) => {
  const engines = await ctx.db
    .query<{ engine: string; lastSeenAt: Date }>(
      `SELECT engine, max(at) AS "lastSeenAt" FROM (
         SELECT engine, last_seen_at AS at FROM workers WHERE project_id = $1
         UNION ALL SELECT engine, last_seen_at FROM queues WHERE project_id = $1) s
        GROUP BY engine ORDER BY engine`,
      [projectOfAuth(res).id],
    )
    .then((r) => r.rows)
    .catch(() => []);
  res.json({ status: 'ok', version: ctx.version, storage: ctx.db.storage, engines });
};

/** Ready when storage answers; sources are reported but do not make the service unready. */
export const ready = (ctx: ApiContext): Handler => async (_req, res) => {
  const storage = await ctx.db.query('SELECT 1').then(() => true, () => false);
  res.status(storage ? 200 : 503).json({
    status: storage ? 'ready' : 'unavailable',
    storage: { kind: ctx.db.storage, reachable: storage },
    ingest: { queued: ctx.pipeline.size, ...ctx.pipeline.totals },
    sources: ctx.sources.map((s) => s.status()),
  });
};

export const metrics = (ctx: ApiContext): Handler => async (_req, res) => {
  res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
};
