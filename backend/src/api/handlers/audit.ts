// The audit log of a project (Admin): list with filters and keyset pagination, verify the
// chain; rotate the audit key (Owner).
import { z } from 'zod';
import { AUDIT_OUTCOMES } from '../../audit/chain.js';
import { MAX_AUDIT_KEY_ID } from '../../audit/keys.js';
import { auditRequest } from '../../audit/record.js';
import { projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { timeParam } from '../taskQueries.js';
import type { Handler } from '../routes.js';

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
 * Rotates the audit key. With keys in the data directory the service adds a new one; with
 * Z4J_AUDIT_KEYS the operator adds it (newest last) and restarts, and this records that the
 * newest key is now in use. Either way the rotation is an audit row MAC'd with the new key.
 */
export const rotateAuditKey = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const keys = ctx.audit.keys;
  const previous = await ctx.audit.lastKeyId(p.id);
  let to: number;
  if (keys.rotatable) {
    // Ids only grow (old rows name theirs): at the last one the answer says so, not a 500.
    if (!keys.idsLeft) throw new ApiError(409, 'AUDIT_KEY_IDS_USED_UP', `audit key ids are used up (the newest is ${MAX_AUDIT_KEY_ID}): no new key can be numbered`);
    to = keys.rotate().id;
  } else {
    to = keys.current.id;
    if (previous === to) throw new ApiError(409, 'AUDIT_KEY_NOT_NEW', 'add a new key to Z4J_AUDIT_KEYS (newest last) and restart the service, then record the rotation');
  }
  await auditRequest(ctx, req, res, { action: 'audit.key.rotate', target: `project:${p.slug}`, detail: { from: previous, to } });
  res.json({ keyId: to, previousKeyId: previous });
};
