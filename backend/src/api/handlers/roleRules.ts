// A project's mapping of Grafana roles and teams to project roles (Admin). A mapping that
// grants Owner where the current one does not, or no longer grants it where it did, needs an
// Owner: an Admin can neither promote themselves through it nor demote the Owners it makes.
import { auditRequest } from '../../audit/record.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import { roleMappingOf, roleMappingReplacementSchema, type ProjectRole, type RoleMapping } from '../../auth/roles.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { requireGrantable, requireUser } from './identity.js';

function ownerGrants(m: RoleMapping): Set<string> {
  const out = new Set<string>();
  if (m.serverAdmin === 'owner') out.add('serverAdmin');
  for (const [r, role] of Object.entries(m.orgRoles)) if (role === 'owner') out.add(`org:${r}`);
  for (const t of m.teams) if (t.role === 'owner') out.add(`team:${t.teamId}`);
  if (out.size && m.grafanaOrgId !== null) out.add(`orgId:${m.grafanaOrgId}`);
  return out;
}

export const getRoleRules = (_ctx: ApiContext): Handler => async (_req, res) => {
  res.json({ roleMapping: projectOfAuth(res).roleMapping });
};

/** Adding an Owner grant, or taking one away, is an Owner's call. */
function requireOwnerFor(before: RoleMapping, after: RoleMapping, role: ProjectRole | null): void {
  const was = ownerGrants(before);
  const will = ownerGrants(after);
  if (will.size !== was.size || [...will].some((g) => !was.has(g))) requireGrantable(role, 'owner');
}

export const putRoleRules = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  requireUser(authOf(res).caller); // who gets which role is a person's call, not a token's
  const next = roleMappingReplacementSchema.parse(req.body);
  await ctx.db.transaction(async (tx) => {
    // The mapping as it is now, locked, not as this request began: a change committed meanwhile
    // (on any replica) is what this one replaces, so it is what the Owner check compares with.
    const current = roleMappingOf((await tx.query<{ m: unknown }>('SELECT role_mapping AS m FROM projects WHERE id = $1 FOR UPDATE', [p.id])).rows[0]?.m);
    requireOwnerFor(current, next, authOf(res).role);
    await tx.query('UPDATE projects SET role_mapping = $2::jsonb WHERE id = $1', [p.id, JSON.stringify(next)]);
    await auditRequest(ctx, req, res, { action: 'role_rules.update', target: `project:${p.slug}`, detail: { from: current, to: next } }, tx);
  });
  res.json({ roleMapping: next });
};
