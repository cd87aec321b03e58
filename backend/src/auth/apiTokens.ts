// API tokens for automation: `z4j_` + 256 random bits, shown once, kept as sha256, bound to
// one project and one role, expiring, revocable, with a last-used time.
import type { ApiContext } from '../api/context.js';
import { ApiError } from '../api/errors.js';
import type { Caller } from './caller.js';
import type { ProjectRole } from './roles.js';
import { hashSecret, newId, newSecret, sameHash } from './secrets.js';
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
  const row = (await ctx.db.query<{ id: string; project_id: number; name: string; role: ProjectRole; token_hash: Uint8Array; expired: boolean; revoked: boolean; stale: boolean; deleted: boolean }>(
    `SELECT t.id, t.project_id, t.name, t.role, t.token_hash, t.expires_at <= now() AS expired, t.revoked_at IS NOT NULL AS revoked,
            (t.last_used_at IS NULL OR t.last_used_at < now() - make_interval(secs => $2)) AS stale, p.deleted_at IS NOT NULL AS deleted
       FROM api_tokens t JOIN projects p ON p.id = t.project_id WHERE t.token_hash = $1`,
    [hash, LAST_USED_EVERY_MS / 1000],
  )).rows[0];
  if (!row || !sameHash(Buffer.from(row.token_hash), hash) || row.deleted) throw refused('TOKEN_INVALID', 'unknown API token');
  if (row.revoked) throw refused('TOKEN_REVOKED', 'this API token was revoked', Number(row.project_id));
  if (row.expired) throw refused('TOKEN_EXPIRED', 'this API token has expired', Number(row.project_id));
  if (row.stale) await ctx.db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [row.id]);
  return { kind: 'token', tokenId: row.id, name: row.name, projectId: Number(row.project_id), role: row.role };
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: ProjectRole;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const COLUMNS = `id, name, role, created_by AS "createdBy", created_at AS "createdAt", expires_at AS "expiresAt",
  revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

export async function mintApiToken(q: Queryable, projectId: number, f: { name: string; role: ProjectRole; expiresInDays: number; createdBy: string }): Promise<{ token: ApiTokenInfo; secret: string }> {
  const secret = newSecret(API_TOKEN_PREFIX);
  const token = (await q.query<ApiTokenInfo>(
    `INSERT INTO api_tokens (id, project_id, name, role, token_hash, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7)) RETURNING ${COLUMNS}`,
    [newId('tok_'), projectId, f.name, f.role, hashSecret(secret), f.createdBy, f.expiresInDays],
  )).rows[0]!;
  return { token, secret };
}

export async function listApiTokens(q: Queryable, projectId: number): Promise<ApiTokenInfo[]> {
  return (await q.query<ApiTokenInfo>(`SELECT ${COLUMNS} FROM api_tokens WHERE project_id = $1 ORDER BY created_at DESC, id`, [projectId])).rows;
}

/** Null when the project has no such token; revoking twice keeps the first time. */
export async function revokeApiToken(q: Queryable, projectId: number, id: string): Promise<ApiTokenInfo | null> {
  return (await q.query<ApiTokenInfo>(
    `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [projectId, id],
  )).rows[0] ?? null;
}
