// Members of a project (Admin): explicit roles bound to Grafana user ids, overriding the
// role mapping. Only an Owner grants, changes or removes the Owner role.
import { z } from 'zod';
import { auditRequest } from '../../audit/record.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import { PROJECT_ROLES, type ProjectRole } from '../../auth/roles.js';
import type { ApiContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import type { Handler } from '../routes.js';
import { callerLabel, requireGrantable, requireUser, revokeGrantsOf } from './identity.js';

const MEMBER = `user_id::text AS "userId", login, email, name, role, created_by AS "createdBy", created_at AS "createdAt", updated_at AS "updatedAt"`;
const userIdParam = z.object({ userId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }).loose();

export const listMembers = (ctx: ApiContext): Handler => async (_req, res) => {
  const p = projectOfAuth(res);
  res.json({ members: (await ctx.db.query(`SELECT ${MEMBER} FROM memberships WHERE project_id = $1 ORDER BY login, user_id`, [p.id])).rows });
};

const putBody = z.object({
  login: z.string().min(1).max(256),
  // As Grafana has it (its own admin is admin@localhost): shown with the member, never mailed.
  email: z.string().regex(/^[^\s@]+@[^\s@]+$/, 'an email address').max(320).nullable().optional(),
  name: z.string().max(256).nullable().optional(),
  role: z.enum(PROJECT_ROLES),
}).strict();

const INSERT_MEMBER = `INSERT INTO memberships (project_id, user_id, login, email, name, role, created_by, set_by_owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

// Once an Owner wrote the row it stays an Owner's: it is what keeps a user the mapping makes
// Owner (a Grafana server admin) below Owner, and an Admin rewriting it must not undo that.
const UPDATE_MEMBER = `ON CONFLICT (project_id, user_id) DO UPDATE SET login = EXCLUDED.login, role = EXCLUDED.role, set_by_owner = memberships.set_by_owner OR EXCLUDED.set_by_owner, updated_at = now(),
  -- Left out of the body: kept (a role change from the members list sends none); null clears.
  email = CASE WHEN $9 THEN EXCLUDED.email ELSE memberships.email END,
  name = CASE WHEN $10 THEN EXCLUDED.name ELSE memberships.name END`;

export const putMember = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { caller, role: callerRole } = authOf(res);
  requireUser(caller); // access is granted by a person: a token could otherwise restore its own creator
  const { userId } = userIdParam.parse(req.params);
  const body = putBody.parse(req.body);
  requireGrantable(callerRole, body.role);
  const member = await ctx.db.transaction(async (tx) => {
    const params = [p.id, userId, body.login, body.email ?? null, body.name ?? null, body.role, callerLabel(caller), callerRole === 'owner'];
    // Inserted if the user has no membership yet; one another request is writing at this moment
    // (on any replica) is waited for, and is then what the check below sees: a SELECT ... FOR
    // UPDATE finds no row to lock while it is uncommitted, and the upsert then overwrote it.
    const fresh = (await tx.query(`${INSERT_MEMBER} ON CONFLICT (project_id, user_id) DO NOTHING RETURNING ${MEMBER}`, params)).rows[0];
    const before = fresh ? undefined : (await tx.query<{ role: ProjectRole; login: string }>('SELECT role, login FROM memberships WHERE project_id = $1 AND user_id = $2 FOR UPDATE', [p.id, userId])).rows[0];
    if (before) requireGrantable(callerRole, before.role);
    const row = fresh ?? (await tx.query(`${INSERT_MEMBER} ${UPDATE_MEMBER} RETURNING ${MEMBER}`, [...params, body.email !== undefined, body.name !== undefined])).rows[0];
    await auditRequest(ctx, req, res, {
      action: before ? 'member.change' : 'member.add', target: `user:${userId}`, detail: { login: body.login, role: body.role, from: before?.role ?? null },
    }, tx);
    // Whatever role the user had (a membership, or the mapping we cannot see from here), grants
    // they made above the one set now go (their tokens are capped by it instead: revokeGrantsOf).
    for (const login of new Set([body.login, before?.login ?? body.login])) await revokeGrantsOf(ctx, req, res, tx, p.id, login, body.role);
    return { member: row, created: !before };
  });
  res.status(member.created ? 201 : 200).json({ member: member.member });
};

export const deleteMember = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { caller, role: callerRole } = authOf(res);
  requireUser(caller);
  const { userId } = userIdParam.parse(req.params);
  await ctx.db.transaction(async (tx) => {
    const before = (await tx.query<{ role: ProjectRole; login: string; setByOwner: boolean }>(
      'SELECT role, login, set_by_owner AS "setByOwner" FROM memberships WHERE project_id = $1 AND user_id = $2 FOR UPDATE', [p.id, userId],
    )).rows[0];
    if (!before) throw notFound(`member ${userId}`, 'MEMBER_NOT_FOUND');
    requireGrantable(callerRole, before.role);
    // Without the row the mapping decides, and it can make the user Owner (a Grafana server admin,
    // or the Owner who transferred the project): only an Owner takes an Owner's row away.
    if (before.setByOwner && callerRole !== 'owner') {
      throw new ApiError(403, 'OWNER_SET_MEMBERSHIP', `an Owner set ${before.login}'s role here: only an Owner removes it (an Admin can change the role)`);
    }
    await tx.query('DELETE FROM memberships WHERE project_id = $1 AND user_id = $2', [p.id, userId]);
    await auditRequest(ctx, req, res, { action: 'member.remove', target: `user:${userId}`, detail: { login: before.login, role: before.role } }, tx);
    await revokeGrantsOf(ctx, req, res, tx, p.id, before.login, null);
  });
  res.status(204).end();
};
