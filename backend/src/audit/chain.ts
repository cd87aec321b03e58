// The per-project audit chain: append (serialized on the project's chain head row),
// verify (first broken row), prune (leaving a MAC'd watermark). Each row's MAC covers its
// canonical content and the previous row's MAC, so an edited, deleted, reordered or forged
// row breaks the chain; the MAC'd head (last seq and MAC) catches a truncated tail.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Db, Queryable } from '../db/db.js';
import type { AuditKeyRing } from './keys.js';

export type AuditOutcome = 'ok' | 'refused' | 'error';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['ok', 'refused', 'error'];

export interface AuditActor {
  /** user: a Grafana user (id = Grafana user id); token: an API token; anonymous: no valid credentials; system: the service itself. */
  kind: 'user' | 'token' | 'anonymous' | 'system';
  id: string | null;
  name: string | null;
}

export interface AuditEntry {
  projectId: number;
  actor: AuditActor;
  /** What was done, dotted: `member.add`, `token.create`, `task.retry`, `auth.refused`... */
  action: string;
  target?: string | null;
  outcome: AuditOutcome;
  detail?: Record<string, unknown> | null;
  ip?: string | null;
  forwardedFor?: string | null;
  requestId?: string | null;
}

/** A stored row, as verified and listed. */
export interface AuditRow {
  id: string;
  projectId: number;
  seq: number;
  at: Date;
  actorKind: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  detail: Record<string, unknown> | null;
  ip: string | null;
  forwardedFor: string | null;
  requestId: string | null;
  keyId: number;
  mac: Buffer;
}

export interface VerifyReport {
  ok: boolean;
  /** Rows checked (after the pruning watermark). */
  checked: number;
  lastSeq: number;
  prunedThroughSeq: number;
  /** The first place the chain breaks: the row (seq) and why. */
  firstBroken: { seq: number | null; id: string | null; reason: string } | null;
}

const GENESIS = Buffer.alloc(32);
const VERSION = 1;

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text Postgres can store (no NUL, no lone surrogates), cut to `max` characters. */
function clean(s: string | null | undefined, max: number): string | null {
  if (s === null || s === undefined) return null;
  return s.replaceAll('\u0000', '').slice(0, max).replace(LONE_SURROGATE, '\uFFFD');
}

function cleanJson(v: unknown, depth = 0): unknown {
  if (depth > 8) return '[too deep]';
  if (typeof v === 'string') return clean(v, 2000);
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v === null || typeof v === 'boolean') return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString(); // not {}: a token's expiry is worth keeping
  if (Array.isArray(v)) return v.slice(0, 100).map((x) => cleanJson(x, depth + 1));
  if (typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as object).slice(0, 100).filter(([, x]) => x !== undefined).map(([k, x]) => [clean(k, 200)!, cleanJson(x, depth + 1)]));
  }
  return String(v);
}

const buf = (v: unknown): Buffer | null => (v === null || v === undefined ? null : Buffer.from(v as Uint8Array));

function rowMac(key: Buffer, r: Omit<AuditRow, 'id' | 'mac'>, prev: Buffer): Buffer {
  const content = JSON.stringify([
    VERSION, r.projectId, r.seq, r.at.toISOString(), r.actorKind, r.actorId, r.actorName, r.action, r.target,
    r.outcome, canonicalJson(r.detail), r.ip, r.forwardedFor, r.requestId, r.keyId,
  ]);
  return createHmac('sha256', key).update(content).update(prev).digest();
}

interface Head {
  lastSeq: number;
  lastMac: Buffer | null;
  prunedThroughSeq: number;
  prunedMac: Buffer | null;
  keyId: number | null;
  headMac: Buffer | null;
}

function headMac(key: Buffer, projectId: number, h: Head): Buffer {
  const content = JSON.stringify(['head', VERSION, projectId, h.lastSeq, h.lastMac?.toString('hex') ?? null, h.prunedThroughSeq, h.prunedMac?.toString('hex') ?? null]);
  return createHmac('sha256', key).update(content).digest();
}

const same = (a: Buffer | null, b: Buffer | null) => (a && b ? a.length === b.length && timingSafeEqual(a, b) : a === b);

const ROW_COLUMNS = `id::text AS id, project_id AS "projectId", seq::text AS seq, at, actor_kind AS "actorKind", actor_id AS "actorId",
  actor_name AS "actorName", action, target, outcome, detail, ip, forwarded_for AS "forwardedFor", request_id AS "requestId",
  key_id AS "keyId", mac`;

function toRow(r: Record<string, unknown>): AuditRow {
  return { ...(r as unknown as AuditRow), seq: Number(r.seq), projectId: Number(r.projectId), keyId: Number(r.keyId), mac: buf(r.mac)!, at: new Date(r.at as Date) };
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  target?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
  /** Rows with seq below this (keyset pagination, newest first). */
  beforeSeq?: number;
  limit: number;
}

export class AuditLog {
  constructor(
    private readonly db: Db,
    readonly keys: AuditKeyRing,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Appends one row to its project's chain. Pass `tx` to append inside the caller's
   * transaction (the write and its audit row commit together); the chain head row is
   * locked until that transaction ends.
   */
  async append(entry: AuditEntry, tx?: Queryable): Promise<{ seq: number }> {
    const run = async (q: Queryable) => {
      await q.query('INSERT INTO audit_chain (project_id) VALUES ($1) ON CONFLICT (project_id) DO NOTHING', [entry.projectId]);
      const head = await this.head(q, entry.projectId, true);
      // A head signed with a newer key than ours: another replica rotated (keys in a shared file).
      if (head!.keyId !== null && head!.keyId > this.keys.current.id) this.keys.refresh();
      const key = this.keys.current;
      const row: Omit<AuditRow, 'id' | 'mac'> = {
        projectId: entry.projectId,
        seq: head!.lastSeq + 1,
        at: this.clock(),
        actorKind: entry.actor.kind,
        actorId: clean(entry.actor.id, 256),
        actorName: clean(entry.actor.name, 256),
        action: clean(entry.action, 128)!,
        target: clean(entry.target, 512),
        outcome: entry.outcome,
        detail: entry.detail ? (cleanJson(entry.detail) as Record<string, unknown>) : null,
        ip: clean(entry.ip, 64),
        forwardedFor: clean(entry.forwardedFor, 256),
        requestId: clean(entry.requestId, 128),
        keyId: key.id,
      };
      const mac = rowMac(key.key, row, head!.lastMac ?? head!.prunedMac ?? GENESIS);
      await q.query(
        `INSERT INTO audit_log (project_id, seq, at, actor_kind, actor_id, actor_name, action, target, outcome, detail, ip, forwarded_for, request_id, key_id, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15)`,
        [row.projectId, row.seq, row.at, row.actorKind, row.actorId, row.actorName, row.action, row.target, row.outcome,
          row.detail === null ? null : JSON.stringify(row.detail), row.ip, row.forwardedFor, row.requestId, row.keyId, mac],
      );
      await this.writeHead(q, entry.projectId, { ...head!, lastSeq: row.seq, lastMac: mac });
      return { seq: row.seq };
    };
    return tx ? run(tx) : this.db.transaction(run);
  }

  private async head(q: Queryable, projectId: number, lock: boolean): Promise<Head | null> {
    const r = (await q.query<Record<string, unknown>>(
      `SELECT last_seq::text AS "lastSeq", last_mac AS "lastMac", pruned_through_seq::text AS "prunedThroughSeq",
              pruned_mac AS "prunedMac", key_id AS "keyId", head_mac AS "headMac"
         FROM audit_chain WHERE project_id = $1${lock ? ' FOR UPDATE' : ''}`,
      [projectId],
    )).rows[0];
    if (!r) return null;
    return {
      lastSeq: Number(r.lastSeq), lastMac: buf(r.lastMac), prunedThroughSeq: Number(r.prunedThroughSeq),
      prunedMac: buf(r.prunedMac), keyId: r.keyId === null ? null : Number(r.keyId), headMac: buf(r.headMac),
    };
  }

  private async writeHead(q: Queryable, projectId: number, h: Head): Promise<void> {
    const key = this.keys.current;
    await q.query(
      `UPDATE audit_chain SET last_seq = $2, last_mac = $3, pruned_through_seq = $4, pruned_mac = $5, key_id = $6, head_mac = $7, updated_at = now()
        WHERE project_id = $1`,
      [projectId, h.lastSeq, h.lastMac, h.prunedThroughSeq, h.prunedMac, key.id, headMac(key.key, projectId, h)],
    );
  }

  /** The key of that id, read again from a shared key file when another replica added it since. */
  private key(id: number): Buffer | undefined {
    return this.keys.get(id) ?? (this.keys.refresh() ? this.keys.get(id) : undefined);
  }

  /** Walks the project's chain from the watermark to the head; reports the first broken row. */
  async verify(projectId: number): Promise<VerifyReport> {
    const head = await this.head(this.db, projectId, false);
    const report = (checked: number, firstBroken: VerifyReport['firstBroken']): VerifyReport => ({
      ok: !firstBroken, checked, lastSeq: head?.lastSeq ?? 0, prunedThroughSeq: head?.prunedThroughSeq ?? 0, firstBroken,
    });
    if (!head || head.lastSeq === 0) {
      const any = (await this.db.query<{ seq: string; id: string }>('SELECT seq::text AS seq, id::text AS id FROM audit_log WHERE project_id = $1 ORDER BY audit_log.seq LIMIT 1', [projectId])).rows[0];
      return report(0, any ? { seq: Number(any.seq), id: any.id, reason: 'rows exist but the chain head says the log is empty' } : null);
    }
    const headKey = head.keyId === null ? undefined : this.key(head.keyId);
    if (!headKey) return report(0, { seq: null, id: null, reason: `chain head is signed with unknown key ${head.keyId}` });
    if (!same(head.headMac, headMac(headKey, projectId, head))) return report(0, { seq: null, id: null, reason: 'chain head does not match its MAC (edited or forged)' });
    if (head.prunedThroughSeq > 0 && !head.prunedMac) return report(0, { seq: null, id: null, reason: 'pruning watermark has no MAC' });

    let prev = head.prunedMac ?? GENESIS;
    let expected = head.prunedThroughSeq + 1;
    let checked = 0;
    for (;;) {
      const rows = (await this.db.query<Record<string, unknown>>(
        `SELECT ${ROW_COLUMNS} FROM audit_log WHERE project_id = $1 AND seq >= $2 ORDER BY audit_log.seq, audit_log.id LIMIT 1000`,
        [projectId, expected],
      )).rows.map(toRow);
      for (const row of rows) {
        if (row.seq !== expected) {
          const reason = row.seq > expected ? `row ${expected} is missing (deleted)` : `row ${row.seq} appears twice`;
          return report(checked, { seq: expected, id: row.seq > expected ? null : row.id, reason });
        }
        if (row.seq > head.lastSeq) return report(checked, { seq: row.seq, id: row.id, reason: 'row beyond the chain head (appended without the key)' });
        const key = this.key(row.keyId);
        if (!key) return report(checked, { seq: row.seq, id: row.id, reason: `row is MAC'd with unknown key ${row.keyId}` });
        if (!same(row.mac, rowMac(key, row, prev))) {
          return report(checked, { seq: row.seq, id: row.id, reason: 'row does not match its MAC (edited, reordered or forged)' });
        }
        prev = row.mac;
        expected++;
        checked++;
      }
      if (rows.length < 1000) break;
    }
    const last = expected - 1;
    if (last < head.lastSeq) return report(checked, { seq: last + 1, id: null, reason: `rows ${last + 1}..${head.lastSeq} are missing (truncated tail)` });
    if (last > head.lastSeq) return report(checked, { seq: head.lastSeq + 1, id: null, reason: 'rows beyond the chain head (appended without the key)' });
    if (!same(prev, head.lastMac)) return report(checked, { seq: last, id: null, reason: 'last row does not match the chain head' });
    return report(checked, null);
  }

  /**
   * Deletes the project's rows older than `before` through the one controlled path the
   * append-only trigger allows, moving the MAC'd watermark to the last pruned row so the
   * rest of the chain still verifies. Returns how many rows went.
   */
  async prune(projectId: number, before: Date): Promise<number> {
    return this.db.transaction(async (q) => {
      const head = await this.head(q, projectId, true);
      if (!head) return 0;
      const last = (await q.query<{ seq: string; mac: Uint8Array }>(
        `SELECT seq::text AS seq, mac FROM audit_log WHERE project_id = $1 AND seq > $2 AND at < $3 ORDER BY audit_log.seq DESC LIMIT 1`,
        [projectId, head.prunedThroughSeq, before],
      )).rows[0];
      if (!last) return 0;
      const through = Number(last.seq);
      await q.query(`SELECT set_config('z4j.audit_prune', 'on', true)`);
      const gone = (await q.query<{ n: number }>(
        `WITH d AS (DELETE FROM audit_log WHERE project_id = $1 AND seq <= $2 RETURNING 1) SELECT count(*)::int AS n FROM d`,
        [projectId, through],
      )).rows[0]!.n;
      await q.query(`SELECT set_config('z4j.audit_prune', 'off', true)`);
      await this.writeHead(q, projectId, { ...head, prunedThroughSeq: through, prunedMac: buf(last.mac) });
      return gone;
    });
  }

  async list(projectId: number, f: AuditFilters): Promise<{ entries: Omit<AuditRow, 'mac'>[]; nextCursor: string | null }> {
    const where = ['project_id = $1'];
    const params: unknown[] = [projectId];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (f.actor) add((p) => `(actor_id = ${p} OR actor_name = ${p})`, f.actor);
    if (f.action) {
      if (f.action.endsWith('*')) add((p) => `action LIKE ${p}`, `${f.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      else add((p) => `action = ${p}`, f.action);
    }
    if (f.target) add((p) => `target = ${p}`, f.target);
    if (f.outcome) add((p) => `outcome = ${p}`, f.outcome);
    if (f.from) add((p) => `at >= ${p}`, f.from);
    if (f.to) add((p) => `at < ${p}`, f.to);
    if (f.beforeSeq !== undefined) add((p) => `seq < ${p}`, f.beforeSeq);
    params.push(f.limit + 1);
    const rows = (await this.db.query<Record<string, unknown>>(
      `SELECT ${ROW_COLUMNS} FROM audit_log WHERE ${where.join(' AND ')} ORDER BY audit_log.seq DESC LIMIT $${params.length}`,
      params,
    )).rows.map(toRow);
    const page = rows.slice(0, f.limit);
    const nextCursor = rows.length > f.limit ? String(page[page.length - 1]!.seq) : null;
    return { entries: page.map(({ mac: _mac, ...r }) => r), nextCursor };
  }

  /** Key id of the newest row, or null for an empty chain. */
  async lastKeyId(projectId: number): Promise<number | null> {
    const r = (await this.db.query<{ k: number }>(`SELECT key_id AS k FROM audit_log WHERE project_id = $1 ORDER BY audit_log.seq DESC LIMIT 1`, [projectId])).rows[0];
    return r ? Number(r.k) : null;
  }
}
