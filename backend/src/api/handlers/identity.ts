// Shared bits of the identity handlers: who the caller is in words, and role checks that
// depend on the request body (nobody grants more than they hold; Owner only by an Owner).
import type { Request, Response } from 'express';
import type { Caller } from '../../auth/caller.js';
import { atLeast, roleRankSql, type ProjectRole } from '../../auth/roles.js';
import { auditRequest } from '../../audit/record.js';
import type { Queryable } from '../../db/db.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { z } from 'zod';

/** `user:<login>` or `token:<id>`: how rows record who created them. */
export const callerLabel = (c: Caller): string => (c.kind === 'user' ? `user:${c.user.login}` : `token:${c.tokenId}`);

export function requireGrantable(callerRole: ProjectRole | null, role: ProjectRole): void {
  if (!atLeast(callerRole, role)) throw new ApiError(403, 'ROLE_TOO_LOW', `only a ${role} (or higher) can grant the ${role} role`);
}

export function requireUser(c: Caller): Extract<Caller, { kind: 'user' }> {
  if (c.kind !== 'user') throw new ApiError(403, 'USER_REQUIRED', 'this needs a Grafana user, not an API token');
  return c;
}

export const nameSchema = z.string().trim().min(1).max(200);
export const idParam = z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'not an id');

/**
 * What a member granted in the project and can no longer grant, revoked with their role: their
 * pending invitations above `role` (all of them when they leave, `role` null), and the API
 * tokens above it that were made before makers were recorded. A token or a link must not keep
 * a role its maker lost. Each revocation is audited.
 *
 * A token with a recorded maker is not revoked: it is capped by its maker's current role
 * (auth/tokenMakers.ts), which follows this change at once. Capping rather than revoking,
 * because it is the one rule for every way a maker loses a role (a membership here, the role
 * mapping, their Grafana org role or teams, which no handler sees happen), because the
 * token list can show why a token acts lower, and because a demotion undone (or a mistaken
 * one) does not break the automation using the token: a maker given their role back could
 * mint the same token again anyway. An Admin still revokes a capped token by hand.
 * Old tokens name their maker only by login (`user:<login>`), so this revocation, matched on
 * that login, stays their only guard.
 */
export async function revokeGrantsOf(ctx: ApiContext, req: Request, res: Response, tx: Queryable, projectId: number, login: string, role: ProjectRole | null): Promise<void> {
  const above = `${roleRankSql('role')} > coalesce(${roleRankSql('$3::text')}, 0)`;
  const reason = role ? `its maker ${login} is now ${role}` : `its maker ${login} left the project`;
  const tokens = (await tx.query<{ id: string; name: string }>(
    `UPDATE api_tokens SET revoked_at = now()
      WHERE project_id = $1 AND created_by = $2 AND created_by_user_id IS NULL AND revoked_at IS NULL AND ${above} RETURNING id, name`,
    [projectId, `user:${login}`, role],
  )).rows;
  for (const t of tokens) await auditRequest(ctx, req, res, { action: 'token.revoke', target: `token:${t.id}`, detail: { name: t.name, reason } }, tx);
  const invitations = (await tx.query<{ id: string; email: string }>(
    `UPDATE invitations SET revoked_at = now() WHERE project_id = $1 AND invited_by = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND ${above} RETURNING id, email`,
    [projectId, `user:${login}`, role],
  )).rows;
  for (const i of invitations) await auditRequest(ctx, req, res, { action: 'invitation.revoke', target: `invitation:${i.id}`, detail: { email: i.email, reason } }, tx);
}
