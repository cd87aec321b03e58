// API tokens for automation: `z4j_` + 256 random bits, shown once, kept as sha256, bound to
// one project and one role (capped by its maker's role: tokenMakers.ts), expiring, revocable,
// with a last-used time.
import type { ApiContext } from '../api/context.js';
import { ApiError } from '../api/errors.js';
import { afterCursorSql, cursorColumns, pageOf, type KeysetOrder, type PageParams } from '../api/keyset.js';
import type { Caller } from './caller.js';
import type { GrafanaUser } from './grafana.js';
import { lower, type ProjectRole, type RoleMapping } from './roles.js';
import { hashSecret, newId, newSecret, sameHash } from './secrets.js';
import { MAKER_COLUMNS, makerRole, makerRolesOf, rememberMaker } from './tokenMakers.js';
import type { Queryable } from '../db/db.js';

export const API_TOKEN_PREFIX = 'z4j_';
/** last_used_at is written at most this often per token, not on every call. */
const LAST_USED_EVERY_MS = 60_000;

function refused(code: string, message: string, projectId?: number): ApiError {
  return Object.assign(new ApiError(401, code, message), projectId === undefined ? {} : { projectId });
}

export async function lookupApiToken(ctx: ApiContext, token: string): Promise<Caller> {
  if (!token.startsWith(API_TOKEN_PREFIX) || token.length > 200) throw refused('TOKEN_INVALID', 'not a z4j API token');
  const hash = hashSecret(token);
  const row = (await ctx.db.query<{ id: string; project_id: number; name: string; role: ProjectRole; token_hash: Uint8Array; expired: boolean; revoked: boolean; stale: boolean; deleted: boolean;
    maker_user_id: string | null; maker_org_id: string | null }>(
    `SELECT t.id, t.project_id, t.name, t.role, t.token_hash, t.expires_at <= now() AS expired, t.revoked_at IS NOT NULL AS revoked,
            t.created_by_user_id AS maker_user_id, t.created_by_org_id AS maker_org_id,
            (t.last_used_at IS NULL OR t.last_used_at < now() - make_interval(secs => $2)) AS stale, p.deleted_at IS NOT NULL AS deleted
       FROM api_tokens t JOIN projects p ON p.id = t.project_id WHERE t.token_hash = $1`,
    [hash, LAST_USED_EVERY_MS / 1000],
  )).rows[0];
  if (!row || !sameHash(Buffer.from(row.token_hash), hash) || row.deleted) throw refused('TOKEN_INVALID', 'unknown API token');
  if (row.revoked) throw refused('TOKEN_REVOKED', 'this API token was revoked', Number(row.project_id));
  if (row.expired) throw refused('TOKEN_EXPIRED', 'this API token has expired', Number(row.project_id));
  if (row.stale) await ctx.db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [row.id]);
  const maker = row.maker_user_id !== null && row.maker_org_id !== null ? { userId: Number(row.maker_user_id), orgId: Number(row.maker_org_id) } : null;
  return { kind: 'token', tokenId: row.id, name: row.name, projectId: Number(row.project_id), role: row.role, maker };
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: ProjectRole;
  /**
   * The role it acts with now: `role` capped by its maker's current role in the project (null:
   * the maker has none). `role` itself for a token made before makers were recorded.
   */
  effectiveRole: ProjectRole | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** The project a token belongs to, as far as working out its effective role needs. */
export interface TokenProject {
  id: number;
  roleMapping: RoleMapping;
}

type TokenRow = Omit<ApiTokenInfo, 'effectiveRole'> & { makerUserId: string | null; makerOrgId: string | null } & Parameters<typeof makerRolesOf>[0];

/**
 * Tokens as the API shows them: `rows` is a query (or a data-modifying statement) named `t`
 * returning api_tokens rows; the maker's membership and last seen roles are joined to it.
 */
async function tokensFrom(q: Queryable, project: TokenProject, rows: string, params: unknown[], tail = '', extraColumns = ''): Promise<ApiTokenInfo[]> {
  const found = (await q.query<TokenRow>(
    `WITH t AS (${rows})
     SELECT t.id, t.name, t.role, t.created_by AS "createdBy", t.created_at AS "createdAt", t.expires_at AS "expiresAt",
            t.revoked_at AS "revokedAt", t.last_used_at AS "lastUsedAt",
            t.created_by_user_id AS "makerUserId", t.created_by_org_id AS "makerOrgId", ${MAKER_COLUMNS}${extraColumns}
       FROM t
       LEFT JOIN memberships m ON m.project_id = t.project_id AND m.user_id = t.created_by_user_id
       LEFT JOIN token_makers tm ON tm.org_id = t.created_by_org_id AND tm.user_id = t.created_by_user_id ${tail}`,
    params,
  )).rows;
  return found.map(({ makerUserId, makerOrgId, memberRole, memberSetByOwner, seenOrgRole, seenAdmin, seenTeams, ...token }) => {
    if (makerUserId === null || makerOrgId === null) return { ...token, effectiveRole: token.role };
    const maker = { userId: Number(makerUserId), orgId: Number(makerOrgId) };
    const { member, seen } = makerRolesOf({ memberRole, memberSetByOwner, seenOrgRole, seenAdmin, seenTeams });
    return { ...token, effectiveRole: lower(token.role, makerRole(project.roleMapping, maker, member, seen)) };
  });
}

/**
 * `maker`: the Grafana user minting it (always, from the API), recorded so the token acts with
 * at most their role; their Grafana roles as this call shows them are written with it.
 */
export async function mintApiToken(
  q: Queryable,
  project: TokenProject,
  f: { name: string; role: ProjectRole; expiresInDays: number; createdBy: string; maker?: { user: GrafanaUser; via: 'app' | 'datasource' } },
): Promise<{ token: ApiTokenInfo; secret: string }> {
  const secret = newSecret(API_TOKEN_PREFIX);
  if (f.maker) await rememberMaker(q, f.maker.user, f.maker.via);
  const [token] = await tokensFrom(q, project,
    `INSERT INTO api_tokens (id, project_id, name, role, token_hash, created_by, expires_at, created_by_user_id, created_by_org_id)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7), $8, $9) RETURNING *`,
    [newId('tok_'), project.id, f.name, f.role, hashSecret(secret), f.createdBy, f.expiresInDays, f.maker?.user.userId ?? null, f.maker?.user.orgId ?? null],
  );
  return { token: token!, secret };
}

const BY_CREATION: KeysetOrder = { at: 't.created_at', id: 't.id', idType: 'text' };

/** One page of the project's tokens, newest first. */
export async function listApiTokens(q: Queryable, project: TokenProject, page: PageParams): Promise<{ rows: ApiTokenInfo[]; nextCursor: string | null }> {
  const params: unknown[] = [project.id];
  const where = ['t.project_id = $1'];
  if (page.cursor) where.push(afterCursorSql(BY_CREATION, page.cursor, params));
  params.push(page.limit + 1);
  const rows = await tokensFrom(
    q, project,
    `SELECT * FROM api_tokens t WHERE ${where.join(' AND ')} ORDER BY t.created_at DESC, t.id DESC LIMIT $${params.length}`,
    params, 'ORDER BY t.created_at DESC, t.id DESC', `, ${cursorColumns(BY_CREATION)}`,
  );
  return pageOf(rows as (ApiTokenInfo & { cursorAt: string; cursorId: string })[], page.limit);
}

/** Null when the project has no such token; revoking twice keeps the first time. */
export async function revokeApiToken(q: Queryable, project: TokenProject, id: string): Promise<ApiTokenInfo | null> {
  const [token] = await tokensFrom(q, project, 'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2 RETURNING *', [project.id, id]);
  return token ?? null;
}
