// An API token acts with at most its maker's current role in the project: a token must not
// keep a role its maker lost. The maker's role is worked out as a caller's is (roleIn in
// caller.ts): their explicit membership and the project's role mapping, both as they are now,
// the mapping applied to the Grafana roles (org role, server admin, teams) last seen on the
// maker's own calls in the organization they minted the token from.
//
// The limit: Grafana tells the service a user's roles only on that user's calls. A maker
// demoted in Grafana (org role, teams) caps their tokens from their next call; a maker never
// seen again (removed from Grafana or from the organization) keeps capping them at the roles
// last seen. A membership or role-mapping change applies at once: to take a departed maker's
// tokens down now, set their membership (Viewer, say), or revoke the tokens.
import type { Queryable } from '../db/db.js';
import type { GrafanaUser } from './grafana.js';
import { mappedRole, memberOrMapped, type ProjectRole, type RoleMapping } from './roles.js';

/** The Grafana user who made a token, and the organization they made it from. */
export interface TokenMaker {
  userId: number;
  orgId: number;
}

/** A maker's Grafana roles are rewritten at most this often when none of them changed. */
const SEEN_EVERY_MS = 60_000;

/** The Grafana roles last seen on a maker's calls (their token_makers row). */
export interface SeenRoles {
  orgRole: string | null;
  isGrafanaAdmin: boolean;
  teams: number[];
}

export interface MemberRow {
  role: ProjectRole;
  setByOwner: boolean;
}

const normalTeams = (teams: readonly number[]): number[] => [...new Set(teams)].sort((a, b) => a - b);

/** A row read with the columns of `MAKER_COLUMNS`, back as a membership and seen roles. */
export function makerRolesOf(row: { memberRole: ProjectRole | null; memberSetByOwner: boolean | null; seenOrgRole: string | null; seenAdmin: boolean | null; seenTeams: unknown[] | null }): { member: MemberRow | undefined; seen: SeenRoles | null } {
  return {
    member: row.memberRole ? { role: row.memberRole, setByOwner: row.memberSetByOwner === true } : undefined,
    // bigint[] comes back as strings from pg, as numbers or bigints from PGlite.
    seen: row.seenTeams ? { orgRole: row.seenOrgRole, isGrafanaAdmin: row.seenAdmin === true, teams: row.seenTeams.map(Number) } : null,
  };
}

/** Columns for a query that joins `memberships m` and `token_makers tm` for one user: read back with makerRolesOf. */
export const MAKER_COLUMNS = `m.role AS "memberRole", m.set_by_owner AS "memberSetByOwner", tm.org_role AS "seenOrgRole",
  tm.is_grafana_admin AS "seenAdmin", tm.teams AS "seenTeams"`;

/**
 * A user's membership in a project and the Grafana roles last seen of them in an organization
 * (null unless they made a token), and whether those are due to be written again.
 */
export async function rolesOf(q: Queryable, projectId: number, who: TokenMaker): Promise<{ member: MemberRow | undefined; seen: SeenRoles | null; stale: boolean }> {
  const row = (await q.query<Parameters<typeof makerRolesOf>[0] & { stale: boolean | null }>(
    `SELECT ${MAKER_COLUMNS}, tm.seen_at < now() - make_interval(secs => $4) AS stale
       FROM (SELECT 1) one
       LEFT JOIN memberships m ON m.project_id = $1 AND m.user_id = $2
       LEFT JOIN token_makers tm ON tm.org_id = $3 AND tm.user_id = $2`,
    [projectId, who.userId, who.orgId, SEEN_EVERY_MS / 1000],
  )).rows[0]!;
  return { ...makerRolesOf(row), stale: row.stale === true };
}

/** The maker's role in the project now, as far as the service can know it (see the top of this file). */
export function makerRole(mapping: RoleMapping, maker: TokenMaker, member: MemberRow | undefined, seen: SeenRoles | null): ProjectRole | null {
  // No row: nothing seen, so the mapping gives nothing (minting writes the row, so only a
  // token whose row was removed by hand gets here).
  const mapped = seen ? mappedRole(mapping, { orgId: maker.orgId, ...seen }) : null;
  return memberOrMapped(member, mapped);
}

/**
 * The datasource proxy's calls carry the org role only (from the ID token: no teams, never
 * server admin): they refresh that and keep the rest as the app proxy last showed it. Without
 * this, a maker moving between a dashboard and the app would flip their row at every call.
 */
const carriesAll = (via: 'app' | 'datasource') => via === 'app';

function changed(seen: SeenRoles, user: GrafanaUser, via: 'app' | 'datasource'): boolean {
  if (seen.orgRole !== user.orgRole) return true;
  if (!carriesAll(via)) return false;
  const teams = normalTeams(user.teams);
  return seen.isGrafanaAdmin !== user.isGrafanaAdmin || seen.teams.length !== teams.length || seen.teams.some((t, i) => t !== teams[i]);
}

/** Writes what this call shows of the user's Grafana roles (at mint, and when a maker's changed or went stale). */
export async function rememberMaker(q: Queryable, user: GrafanaUser, via: 'app' | 'datasource'): Promise<void> {
  await q.query(
    `INSERT INTO token_makers (org_id, user_id, org_role, is_grafana_admin, teams) VALUES ($1, $2, $3, $4, $5::bigint[])
     ON CONFLICT (org_id, user_id) DO UPDATE SET org_role = EXCLUDED.org_role, seen_at = now(),
       is_grafana_admin = CASE WHEN $6 THEN EXCLUDED.is_grafana_admin ELSE token_makers.is_grafana_admin END,
       teams = CASE WHEN $6 THEN EXCLUDED.teams ELSE token_makers.teams END`,
    [user.orgId, user.userId, user.orgRole, carriesAll(via) && user.isGrafanaAdmin, carriesAll(via) ? normalTeams(user.teams) : [], carriesAll(via)],
  );
}

/**
 * On a maker's call: their row is written again only when the roles the call carries differ
 * from it or it is older than SEEN_EVERY_MS, not on every request (as api_tokens.last_used_at).
 */
export async function noteMakerCall(q: Queryable, user: GrafanaUser, via: 'app' | 'datasource', seen: SeenRoles, stale: boolean): Promise<void> {
  // A datasource call whose ID token has no role claim shows nothing of the user's roles.
  if (!carriesAll(via) && user.orgRole === null) return;
  if (stale || changed(seen, user, via)) await rememberMaker(q, user, via);
}
