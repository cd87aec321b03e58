// Invitations: an Admin invites an email address with a role; the invitee gets a single-use
// link (256-bit token, kept as sha256, 7 days) by mail and accepts it signed in to Grafana,
// which binds the membership to their Grafana user.
import type { Config } from '../config.js';
import type { Queryable } from '../db/db.js';
import { ApiError } from '../api/errors.js';
import { listPage, type KeysetOrder, type PageParams } from '../api/keyset.js';
import type { GrafanaUser } from './grafana.js';
import { atLeast, mappedRole, memberOrMapped, roleMappingOf, roleRankSql, type ProjectRole } from './roles.js';
import { hashSecret, newId, newSecret, sameHash } from './secrets.js';

export const INVITATION_PREFIX = 'z4ji_';
export const INVITATION_DAYS = 7;

export interface InvitationInfo {
  id: string;
  email: string;
  role: ProjectRole;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedByUserId: string | null;
  revokedAt: Date | null;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
}

const cols = (t = '') => `${t}id, ${t}email, ${t}role, ${t}invited_by AS "invitedBy", ${t}created_at AS "createdAt", ${t}expires_at AS "expiresAt",
  ${t}accepted_at AS "acceptedAt", ${t}accepted_by_user_id::text AS "acceptedByUserId", ${t}revoked_at AS "revokedAt",
  CASE WHEN ${t}accepted_at IS NOT NULL THEN 'accepted' WHEN ${t}revoked_at IS NOT NULL THEN 'revoked'
       WHEN ${t}expires_at <= now() THEN 'expired' ELSE 'pending' END AS status`;
const COLUMNS = cols();
const BY_CREATION: KeysetOrder = { at: 'created_at', id: 'id', idType: 'text' };

/** The page an invitation link opens, with the token appended. */
export function invitationLink(config: Config, token: string): string {
  const base = config.Z4J_INVITATION_URL ?? `${(config.GRAFANA_URL ?? 'http://localhost:3000').replace(/\/+$/, '')}/a/z4j-taskqueue-app/invitation`;
  const url = new URL(base);
  url.searchParams.set('token', token);
  return url.toString();
}

/** How many invitations this person sent for this project in the last hour. */
export async function recentInvitations(q: Queryable, projectId: number, invitedBy: string): Promise<number> {
  return (await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM invitations WHERE project_id = $1 AND invited_by = $2 AND created_at > now() - interval '1 hour'`,
    [projectId, invitedBy],
  )).rows[0]!.n;
}

export async function createInvitation(q: Queryable, projectId: number, f: { email: string; role: ProjectRole; invitedBy: string }): Promise<{ invitation: InvitationInfo; token: string }> {
  const token = newSecret(INVITATION_PREFIX);
  const invitation = (await q.query<InvitationInfo>(
    `INSERT INTO invitations (id, project_id, email, role, token_hash, invited_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7)) RETURNING ${COLUMNS}`,
    [newId('inv_'), projectId, f.email, f.role, hashSecret(token), f.invitedBy, INVITATION_DAYS],
  )).rows[0]!;
  return { invitation, token };
}

/** One page of the project's invitations, newest first. */
export async function listInvitations(q: Queryable, projectId: number, page: PageParams): Promise<{ rows: InvitationInfo[]; nextCursor: string | null }> {
  return listPage<InvitationInfo>(q, { select: COLUMNS, from: 'invitations', where: 'project_id = $1', params: [projectId], order: BY_CREATION }, page);
}

export async function revokeInvitation(q: Queryable, projectId: number, id: string): Promise<InvitationInfo | null> {
  return (await q.query<InvitationInfo>(
    `UPDATE invitations SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2 AND accepted_at IS NULL RETURNING ${COLUMNS}`,
    [projectId, id],
  )).rows[0] ?? null;
}

/** An invitation that cannot be accepted, with the project it belongs to (for the audit row). */
export class InvitationRefused extends ApiError {
  constructor(status: number, code: string, message: string, readonly projectId: number | null, readonly invitationId: string | null) {
    super(status, code, message);
  }
}

/**
 * Who accepts: the Grafana user, and the email Grafana verified (from the signed ID token), which
 * is the one compared when `verifiedOnly` (Z4J_INVITATIONS_VERIFIED_EMAIL).
 */
export interface Invitee {
  user: GrafanaUser;
  verifiedEmail: string | null;
  verifiedOnly: boolean;
}

/**
 * Accepts an invitation inside transaction `q`: the row is locked, so two concurrent accepts
 * of one link cannot both succeed. Returns the project and the role the user has there now:
 * the invitation's, or the higher one they had already; and `email`, the user's address that
 * matched the invitation (the verified one when `verifiedOnly`).
 */
export async function acceptInvitation(q: Queryable, token: string, { user, verifiedEmail, verifiedOnly }: Invitee): Promise<{ projectId: number; slug: string; role: ProjectRole; invitation: InvitationInfo; email: string }> {
  if (!token.startsWith(INVITATION_PREFIX) || token.length > 200) throw new InvitationRefused(404, 'INVITATION_INVALID', 'this is not an invitation link z4j sent', null, null);
  const hash = hashSecret(token);
  const row = (await q.query<InvitationInfo & { project_id: number; slug: string; role_mapping: unknown; token_hash: Uint8Array; deleted: boolean }>(
    `SELECT ${cols('i.')}, i.project_id, i.token_hash, p.slug, p.role_mapping, p.deleted_at IS NOT NULL AS deleted
       FROM invitations i JOIN projects p ON p.id = i.project_id WHERE i.token_hash = $1 FOR UPDATE OF i`,
    [hash],
  )).rows[0];
  if (!row || !sameHash(Buffer.from(row.token_hash), hash)) throw new InvitationRefused(404, 'INVITATION_INVALID', 'this invitation link is not valid', null, null);
  const pid = Number(row.project_id);
  if (row.deleted) throw new InvitationRefused(410, 'PROJECT_DELETED', 'the project of this invitation was deleted', pid, row.id);
  if (row.status === 'accepted') throw new InvitationRefused(409, 'INVITATION_ALREADY_USED', 'this invitation was already accepted; links work once', pid, row.id);
  if (row.status === 'revoked') throw new InvitationRefused(410, 'INVITATION_REVOKED', 'this invitation was revoked; ask for a new one', pid, row.id);
  if (row.status === 'expired') throw new InvitationRefused(410, 'INVITATION_EXPIRED', `this invitation expired (links last ${INVITATION_DAYS} days); ask for a new one`, pid, row.id);
  // The link is mailed to one address: whoever else holds it (a forward, the inviter) is not
  // invited. Grafana's email is what the user's profile says, and where users edit their own
  // (basic auth) one holding the link could set theirs to the invited address: with
  // verifiedOnly only an address Grafana verified, as its signed ID token says, counts.
  if (verifiedOnly && !verifiedEmail) {
    throw new InvitationRefused(403, 'INVITATION_EMAIL_UNVERIFIED', 'Grafana has not verified the email address of your account; invitations here need a verified one (ask a Grafana admin)', pid, row.id);
  }
  const email = verifiedOnly ? verifiedEmail : user.email;
  if (!email || email.trim().toLowerCase() !== row.email.trim().toLowerCase()) {
    throw new InvitationRefused(403, 'INVITATION_FOR_ANOTHER_EMAIL', `this invitation is for another email address than your Grafana account's (${email ?? 'none'}): sign in to Grafana as the invited user`, pid, row.id);
  }
  await q.query('UPDATE invitations SET accepted_at = now(), accepted_by_user_id = $2 WHERE id = $1', [row.id, user.userId]);
  const invitation = async () => (await q.query<InvitationInfo>(`SELECT ${COLUMNS} FROM invitations WHERE id = $1`, [row.id])).rows[0]!;
  // An invitation never lowers the role the user has now, whether a membership or the role
  // mapping gives it. A membership overrides the mapping, so one written with a lower role
  // would demote them: an org Admin accepting a Viewer link became a Viewer (and a project
  // whose Admins all come from the mapping could lose its last one). Such a link writes no
  // membership: the mapping keeps deciding, as it did.
  const member = (await q.query<{ role: ProjectRole; setByOwner: boolean }>(
    'SELECT role, set_by_owner AS "setByOwner" FROM memberships WHERE project_id = $1 AND user_id = $2 FOR UPDATE',
    [pid, user.userId],
  )).rows[0];
  const current = memberOrMapped(member, mappedRole(roleMappingOf(row.role_mapping), user));
  if (atLeast(current, row.role)) return { projectId: pid, slug: row.slug, role: current!, invitation: await invitation(), email };
  // Higher than the role they have: it raises a membership, except one an Owner set (an
  // Owner's demotion is not undone by an Admin's link).
  const { role } = (await q.query<{ role: ProjectRole }>(
    `INSERT INTO memberships (project_id, user_id, login, email, name, role, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (project_id, user_id) DO UPDATE SET login = EXCLUDED.login, email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now(),
       role = CASE WHEN NOT memberships.set_by_owner
                    AND ${roleRankSql('EXCLUDED.role')} > ${roleRankSql('memberships.role')}
                   THEN EXCLUDED.role ELSE memberships.role END
     RETURNING role`,
    // The email that was compared: with verifiedOnly the signed one, not what X-Grafana-Context claims.
    [pid, user.userId, user.login, email, user.name, row.role, `invitation:${row.id}`],
  )).rows[0]!;
  return { projectId: pid, slug: row.slug, role, invitation: await invitation(), email };
}
