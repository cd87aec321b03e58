// Agent credentials minted by Admins: an agent id and a secret shown once, kept sealed
// (batch HMACs need the secret itself, so it cannot be a hash). Rotation keeps the old
// secret alive for an overlap window; revocation bites within the store's cache TTL.
import { listPage, type KeysetOrder, type PageParams } from '../api/keyset.js';
import type { Sealer } from '../crypto/seal.js';
import type { Db, Queryable } from '../db/db.js';
import type { AgentCredentials, AgentKeyStore, LookupOptions } from '../ingest/agentKeys.js';
import { newId, newSecret } from './secrets.js';

/** Longest a lookup answer (including "unknown" and "revoked") is reused: a revocation bites within this. */
export const AGENT_KEY_CACHE_MS = 5_000;

/**
 * Least age of a cached answer before a fresh lookup reads the database again. A fresh lookup
 * follows a signature that matched none of the cached secrets: a rotation on another replica,
 * or a forged batch, which must not buy one query each (HTTP ingest is open to the network).
 */
export const AGENT_KEY_FRESH_MS = 1_000;

const aad = (agentId: string) => `z4j-agent:${agentId}`;

/** The database store the ingest side asks (through ChainedAgentKeyStore) who may send batches. */
export class DbAgentKeyStore implements AgentKeyStore {
  private readonly cache = new Map<string, { at: number; value: AgentCredentials | null }>();

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly ttlMs = AGENT_KEY_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async lookup(agentId: string, opts: LookupOptions = {}): Promise<AgentCredentials | null> {
    const hit = this.cache.get(agentId);
    if (hit && this.now() - hit.at < (opts.fresh ? AGENT_KEY_FRESH_MS : this.ttlMs)) return hit.value;
    const rows = (await this.db.query<{ project: string; secret_sealed: Uint8Array }>(
      `SELECT p.slug AS project, s.secret_sealed FROM agents a
         JOIN projects p ON p.id = a.project_id AND p.deleted_at IS NULL
         JOIN agent_secrets s ON s.agent_id = a.id AND (s.expires_at IS NULL OR s.expires_at > now())
        WHERE a.id = $1 AND a.revoked_at IS NULL
        ORDER BY s.created_at DESC, s.id DESC`,
      [agentId],
    )).rows;
    const value = rows.length
      ? { agentId, project: rows[0]!.project, secrets: rows.map((r) => this.sealer.open(Buffer.from(r.secret_sealed), aad(agentId))) }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(agentId, { at: this.now(), value });
    return value;
  }

  /**
   * Forgets a cached answer at once (this process). Other replicas follow within the TTL for a
   * revocation; a new secret they take at once (batches that do not match are checked again
   * fresh, commands sign with fresh secrets).
   */
  invalidate(agentId: string): void {
    this.cache.delete(agentId);
  }
}

export interface AgentInfo {
  id: string;
  name: string;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
  /** Live secrets: 2 during a rotation's overlap window. */
  liveSecrets: number;
  /** When the previous secret stops working (a rotation's overlap window), if one is pending. */
  overlapEndsAt: Date | null;
}

const INFO = `a.id, a.name, a.created_by AS "createdBy", a.created_at AS "createdAt", a.revoked_at AS "revokedAt",
  (SELECT count(*)::int FROM agent_secrets s WHERE s.agent_id = a.id AND a.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())) AS "liveSecrets",
  (SELECT max(s.expires_at) FROM agent_secrets s WHERE s.agent_id = a.id AND s.expires_at > now()) AS "overlapEndsAt"`;

const BY_CREATION: KeysetOrder = { at: 'a.created_at', id: 'a.id', idType: 'text' };

const agentSecret = () => newSecret('');

export async function mintAgent(q: Queryable, sealer: Sealer, projectId: number, f: { name: string; createdBy: string }): Promise<{ agent: AgentInfo; secret: string }> {
  const id = newId('agt_');
  const secret = agentSecret();
  await q.query('INSERT INTO agents (id, project_id, name, created_by) VALUES ($1, $2, $3, $4)', [id, projectId, f.name, f.createdBy]);
  await q.query('INSERT INTO agent_secrets (agent_id, secret_sealed) VALUES ($1, $2)', [id, sealer.seal(secret, aad(id))]);
  return { agent: (await getAgent(q, projectId, id))!, secret };
}

export async function getAgent(q: Queryable, projectId: number, id: string): Promise<AgentInfo | null> {
  return (await q.query<AgentInfo>(`SELECT ${INFO} FROM agents a WHERE a.project_id = $1 AND a.id = $2`, [projectId, id])).rows[0] ?? null;
}

/** One page of the project's agents, newest first. */
export async function listAgents(q: Queryable, projectId: number, page: PageParams): Promise<{ rows: AgentInfo[]; nextCursor: string | null }> {
  return listPage<AgentInfo>(q, { select: INFO, from: 'agents a', where: 'a.project_id = $1', params: [projectId], order: BY_CREATION }, page);
}

/** New secret now; the current ones keep working for `overlapSeconds` (0: stop at once). Null for an unknown or revoked agent. */
export async function rotateAgent(q: Queryable, sealer: Sealer, projectId: number, id: string, overlapSeconds: number): Promise<{ agent: AgentInfo; secret: string } | null> {
  const live = (await q.query('SELECT 1 FROM agents WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL FOR UPDATE', [projectId, id])).rows[0];
  if (!live) return null;
  await q.query(
    `UPDATE agent_secrets SET expires_at = LEAST(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2))
      WHERE agent_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
    [id, overlapSeconds],
  );
  const secret = agentSecret();
  await q.query('INSERT INTO agent_secrets (agent_id, secret_sealed) VALUES ($1, $2)', [id, sealer.seal(secret, aad(id))]);
  return { agent: (await getAgent(q, projectId, id))!, secret };
}

export async function revokeAgent(q: Queryable, projectId: number, id: string): Promise<AgentInfo | null> {
  const done = (await q.query('UPDATE agents SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2 RETURNING id', [projectId, id])).rows[0];
  return done ? getAgent(q, projectId, id) : null;
}
