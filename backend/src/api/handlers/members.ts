// Members of a project (Admin): explicit roles bound to Grafana user ids, overriding the
// role mapping. Only an Owner grants, changes or removes the Owner role.
import { z } from 'zod';
import { auditRequest } from '../../audit/record.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import { PROJECT_ROLES, type ProjectRole } from '../../auth/roles.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Handler } from '../routes.js';
import { callerLabel, requireGrantable } from './identity.js';

const MEMBER = `user_id::text AS "userId", login, email, name, role, created_by AS "createdBy", created_at AS "createdAt", updated_at AS "updatedAt"`;
const userIdParam = z.object({ userId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }).loose();

export const listMembers = (ctx: ApiContext): Handler => async (_req, res) => {
  const p = projectOfAuth(res);
  res.json({ members: (await ctx.db.query(`SELECT ${MEMBER} FROM memberships WHERE project_id = $1 ORDER BY login, user_id`, [p.id])).rows });
};

const putBody = z.object({
  login: z.string().min(1).max(256),
  email: z.string().email().max(320).nullable().optional(),
  name: z.string().max(256).nullable().optional(),
  role: z.enum(PROJECT_ROLES),
}).strict();

export const putMember = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { caller, role: callerRole } = authOf(res);
  const { userId } = userIdParam.parse(req.params);
  const body = putBody.parse(req.body);
  requireGrantable(callerRole, body.role);
  const member = await ctx.db.transaction(async (tx) => {
    const before = (await tx.query<{ role: ProjectRole }>('SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2 FOR UPDATE', [p.id, userId])).rows[0];
    if (before) requireGrantable(callerRole, before.role);
    const row = (await tx.query(
      `INSERT INTO memberships (project_id, user_id, login, email, name, role, created_by, set_by_owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $10)
       ON CONFLICT (project_id, user_id) DO UPDATE SET login = EXCLUDED.login, role = EXCLUDED.role, set_by_owner = EXCLUDED.set_by_owner, updated_at = now(),
         -- Left out of the body: kept (a role change from the members list sends none); null clears.
         email = CASE WHEN $8 THEN EXCLUDED.email ELSE memberships.email END,
         name = CASE WHEN $9 THEN EXCLUDED.name ELSE memberships.name END
       RETURNING ${MEMBER}`,
      [p.id, userId, body.login, body.email ?? null, body.name ?? null, body.role, callerLabel(caller), body.email !== undefined, body.name !== undefined, callerRole === 'owner'],
    )).rows[0];
    await auditRequest(ctx, req, res, {
      action: before ? 'member.change' : 'member.add', target: `user:${userId}`, detail: { login: body.login, role: body.role, from: before?.role ?? null },
    }, tx);
    return { member: row, created: !before };
  });
  res.status(member.created ? 201 : 200).json({ member: member.member });
};

export const deleteMember = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { role: callerRole } = authOf(res);
  const { userId } = userIdParam.parse(req.params);
  await ctx.db.transaction(async (tx) => {
    const before = (await tx.query<{ role: ProjectRole; login: string }>('SELECT role, login FROM memberships WHERE project_id = $1 AND user_id = $2 FOR UPDATE', [p.id, userId])).rows[0];
    if (!before) throw notFound(`member ${userId}`, 'MEMBER_NOT_FOUND');
    requireGrantable(callerRole, before.role);
    await tx.query('DELETE FROM memberships WHERE project_id = $1 AND user_id = $2', [p.id, userId]);
    await auditRequest(ctx, req, res, { action: 'member.remove', target: `user:${userId}`, detail: { login: before.login, role: before.role } }, tx);
  });
  res.status(204).end();
};
