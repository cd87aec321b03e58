// The audit log of a project (Admin): list with filters and keyset pagination, verify the
// chain; rotate the service's audit key (Grafana server admin).
import { z } from 'zod';
import { AUDIT_OUTCOMES } from '../../audit/chain.js';
import { MAX_AUDIT_KEY_ID, MIN_AUDIT_KEY_ROTATION_INTERVAL_S } from '../../audit/keys.js';
import { auditRefusalOfNoProject, auditRequest } from '../../audit/record.js';
import { actorName, authOf, projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { timeParam } from '../taskQueries.js';
import type { Handler } from '../routes.js';
import { requireUser } from './identity.js';

/** The explorer's: a bad time (or one past year 9999) is a 400 here too, never an invalid date handed to the database. */
const time = timeParam;

const listQuery = z.object({
  project: z.string().optional(),
  actor: z.string().min(1).max(256).optional(),
  action: z.string().min(1).max(128).optional(),
  target: z.string().min(1).max(512).optional(),
  outcome: z.enum(AUDIT_OUTCOMES as [string, ...string[]]).optional(),
  from: time.optional(),
  to: time.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().regex(/^\d{1,18}$/, 'not a cursor this API returned').optional(),
}).strict();

export const listAudit = (ctx: ApiContext): Handler => async (req, res) => {
  const q = listQuery.parse(req.query);
  const page = await ctx.audit.list(projectOfAuth(res).id, {
    actor: q.actor, action: q.action, target: q.target, outcome: q.outcome as never, from: q.from, to: q.to,
    beforeSeq: q.cursor === undefined ? undefined : Number(q.cursor), limit: q.limit,
  });
  res.json(page);
};

export const verifyAudit = (ctx: ApiContext): Handler => async (_req, res) => {
  res.json(await ctx.audit.verify(projectOfAuth(res).id));
};

/**
 * Rotates the audit key. One key ring MACs every project's chain, so the rotation is the
 * service's: a Grafana server admin's (as the service's sources are, GET /api/readyz), not a
 * project Owner's, at most once an hour (429 with Retry-After), recorded in audit_key_rotations
 * and audited in every live project's chain, each row MAC'd with the new key. With keys in the
 * data directory the service adds the new key; with Z4J_AUDIT_KEYS the operator adds it (newest
 * last) and restarts, and this records that the newest key is now in use.
 */
export const rotateAuditKey = (ctx: ApiContext): Handler => async (req, res) => {
  const { user } = requireUser(authOf(res).caller);
  if (!user.isGrafanaAdmin) {
    await auditRefusalOfNoProject(ctx, req, res, 'audit.key.rotate', 'service');
    throw new ApiError(403, 'ROLE_TOO_LOW', 'the audit key serves every project: only a Grafana server admin rotates it');
  }
  const keys = ctx.audit.keys;
  const done = await ctx.db.transaction(async (tx) => {
    // One rotation at a time, across replicas: the interval and "not new" checks hold.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['z4j-audit-key-rotation']);
    if (keys.reload() === 'differs') {
      throw new ApiError(409, 'AUDIT_KEY_FILE_CHANGED', 'the audit key file no longer holds the keys this service uses (edited, or replaced): restore it, or restart the service to read it');
    }
    let from: number | null = keys.current.id; // after the reload: a rotation another replica made counts
    if (keys.rotatable) {
      // Ids only grow (old rows name theirs): at the last one the answer says so, not a 500.
      if (!keys.idsLeft) throw new ApiError(409, 'AUDIT_KEY_IDS_USED_UP', `audit key ids are used up (the newest is ${MAX_AUDIT_KEY_ID}): no new key can be numbered`);
    } else {
      from = keys.ids.at(-2) ?? null;
      const recorded = (await tx.query('SELECT 1 FROM audit_key_rotations WHERE key_id = $1', [keys.current.id])).rows.length > 0;
      if (from === null || recorded) throw new ApiError(409, 'AUDIT_KEY_NOT_NEW', 'add a new key to Z4J_AUDIT_KEYS (newest last) and restart the service, then record the rotation');
    }
    const wait = (await tx.query<{ s: number | null }>(
      'SELECT ceil(extract(epoch FROM max(rotated_at) + make_interval(secs => $1) - now()))::int AS s FROM audit_key_rotations',
      [MIN_AUDIT_KEY_ROTATION_INTERVAL_S],
    )).rows[0]?.s ?? 0;
    if (wait > 0) {
      res.set('Retry-After', String(wait));
      throw new ApiError(429, 'AUDIT_KEY_ROTATED_RECENTLY', `the audit key was rotated less than ${MIN_AUDIT_KEY_ROTATION_INTERVAL_S / 60} minutes ago; try again in ${Math.ceil(wait / 60)} min`);
    }
    const to = keys.rotatable ? keys.rotate().id : keys.current.id;
    await tx.query('INSERT INTO audit_key_rotations (key_id, from_key_id, rotated_by) VALUES ($1, $2, $3)', [to, from, actorName(authOf(res).caller)]);
    // Every live project's chain says why its key changed; `from` is the key its last row names.
    const projects = (await tx.query<{ id: number; slug: string; last: number | null }>(
      `SELECT p.id, p.slug, (SELECT l.key_id FROM audit_log l WHERE l.project_id = p.id ORDER BY l.seq DESC LIMIT 1) AS last
         FROM projects p WHERE p.deleted_at IS NULL ORDER BY p.id`,
    )).rows;
    for (const p of projects) {
      await auditRequest(ctx, req, res, { projectId: Number(p.id), action: 'audit.key.rotate', target: 'service', detail: { from: p.last === null ? null : Number(p.last), to } }, tx);
    }
    return { keyId: to, previousKeyId: from, projects: projects.length };
  });
  res.json(done);
};
