import { auditRefusalOfNoProject } from '../../audit/record.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import { sameSecret } from '../../auth/secrets.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { Handler } from '../routes.js';
import { requireUser } from './identity.js';

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

/** Whether storage answers: what makes the service ready. Sources are reported but do not make it unready. */
const storageReachable = (ctx: ApiContext) => ctx.db.query('SELECT 1').then(() => true, () => false);

/**
 * Readiness, for load balancers and orchestrators: the status code (503 when storage does not
 * answer) and counts. It answers anyone, so it names no source: a source's name is its broker's
 * host, and its last error may quote addresses. Those are in readinessDetail.
 */
export const ready = (ctx: ApiContext): Handler => async (_req, res) => {
  const storage = await storageReachable(ctx);
  const sources = ctx.sources.map((s) => s.status());
  res.status(storage ? 200 : 503).json({
    status: storage ? 'ready' : 'unavailable',
    storage: { kind: ctx.db.storage, reachable: storage },
    sources: { total: sources.length, connected: sources.filter((s) => s.connected).length },
  });
};

/**
 * The same readiness with each source (name, connection, last error, last message) and the
 * ingest counters. Sources serve every project, so only a Grafana server admin sees them.
 */
export const readinessDetail = (ctx: ApiContext): Handler => async (req, res) => {
  const { user } = requireUser(authOf(res).caller);
  if (!user.isGrafanaAdmin) {
    await auditRefusalOfNoProject(ctx, req, res, 'GET /api/readyz', 'service');
    throw new ApiError(403, 'ROLE_TOO_LOW', "the service's sources are shown to Grafana server admins only");
  }
  const storage = await storageReachable(ctx);
  res.status(storage ? 200 : 503).json({
    status: storage ? 'ready' : 'unavailable',
    storage: { kind: ctx.db.storage, reachable: storage },
    ingest: { queued: ctx.pipeline.size, ...ctx.pipeline.totals },
    sources: ctx.sources.map((s) => s.status()),
  });
};

/**
 * Prometheus text. Public unless Z4J_METRICS_TOKEN is set, then for that bearer token only. Its
 * refusals name no project, so they are counted (z4j_auth_refused_total), not audited.
 */
export const metrics = (ctx: ApiContext): Handler => async (req, res) => {
  const token = ctx.config.Z4J_METRICS_TOKEN;
  if (token) {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!given || !sameSecret(given, token)) {
      const code = given ? 'METRICS_TOKEN_WRONG' : 'CREDENTIALS_MISSING';
      ctx.metrics.authRefused.inc({ status: '401', code, audited: 'no' });
      res.set('WWW-Authenticate', 'Bearer realm="z4j metrics"');
      throw new ApiError(401, code, given ? 'wrong metrics token' : '/metrics needs Authorization: Bearer <Z4J_METRICS_TOKEN>');
    }
  }
  res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
};
