// The audit chain's HMAC keys: from Z4J_AUDIT_KEYS, or a key file in the data directory
// (generated once, like the seal key). Rows carry the id of the key that MAC'd them, so a
// rotation adds a key and every older row keeps verifying with the key it names.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { createFileOnce } from '../dataDir.js';
import type { Logger } from '../logger.js';

export interface AuditKey {
  id: number;
  key: Buffer;
}

export class AuditKeyError extends Error {}

/** The largest key id: rows record it in an `int` column (audit_log.key_id, audit_chain.key_id). */
export const MAX_AUDIT_KEY_ID = 2_147_483_647;

/**
 * Least time between two rotations. A rotation is an answer to a key that may have leaked, or a
 * routine a few times a year; each adds a key that must be kept for good (old rows name theirs).
 */
export const MIN_AUDIT_KEY_ROTATION_INTERVAL_S = 3600;

/** Least time between two reads of the key file for keys another replica added (refresh). */
export const REFRESH_INTERVAL_MS = 5000;

/** Keys newest last; the newest MACs new rows, all of them verify. */
export class AuditKeyRing {
  private byId: Map<number, Buffer>;
  private keys: AuditKey[];

  private readAt = 0;

  constructor(keys: AuditKey[], private readonly file: string | null = null) {
    AuditKeyRing.check(keys);
    this.keys = keys;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  private static check(keys: AuditKey[]): void {
    if (!keys.length) throw new AuditKeyError('at least one audit key is required');
    for (const k of keys) {
      if (!Number.isInteger(k.id) || k.id < 1 || k.id > MAX_AUDIT_KEY_ID) throw new AuditKeyError(`audit key id ${k.id} is not in 1..${MAX_AUDIT_KEY_ID}`);
      if (k.key.length < 32) throw new AuditKeyError(`audit key ${k.id} must be at least 32 bytes`);
    }
    if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new AuditKeyError('audit key ids must be unique');
  }

  get current(): AuditKey {
    return this.keys[this.keys.length - 1]!;
  }

  get ids(): number[] {
    return this.keys.map((k) => k.id);
  }

  get(id: number): Buffer | undefined {
    return this.byId.get(id);
  }

  /** True when keys live in the data directory, so the service itself can add one. */
  get rotatable(): boolean {
    return this.file !== null;
  }

  /** Whether rotate() has an id left for a new key (ids only grow: old rows keep naming theirs). */
  get idsLeft(): boolean {
    return Math.max(...this.ids) < MAX_AUDIT_KEY_ID;
  }

  /**
   * Takes in the keys another replica added to the shared key file since this one read it (file
   * mode only): after a rotation there, this replica's rows would go on being MAC'd with the old
   * key (the one a rotation retires, perhaps because it leaked) and the new key's rows would read
   * as "unknown key" here. Reads at most once per REFRESH_INTERVAL_MS. True when the ring gained a key.
   */
  refresh(now = Date.now()): boolean {
    if (!this.file || now - this.readAt < REFRESH_INTERVAL_MS) return false;
    this.readAt = now;
    return this.reload() === 'grew';
  }

  /**
   * The key file read again (file mode; with Z4J_AUDIT_KEYS, 'same'). Only a file that keeps every key this ring has, unchanged, is taken
   * (old rows name their keys: none may go); 'differs' for one that does not, or that cannot be
   * read (a bad edit): the keys in hand stay.
   */
  reload(): 'same' | 'grew' | 'differs' {
    if (!this.file) return 'same';
    let read: AuditKey[] | null;
    try {
      read = parseAuditKeys(readFileSync(this.file, 'utf8'));
      if (read) AuditKeyRing.check(read);
    } catch {
      return 'differs';
    }
    if (!read) return 'differs';
    const byId = new Map(read.map((k) => [k.id, k.key]));
    if (!this.keys.every((k) => byId.get(k.id)?.equals(k.key))) return 'differs';
    if (read.length === this.keys.length) return 'same';
    this.keys = read;
    this.byId = byId;
    return 'grew';
  }

  /** Adds a freshly generated key (newest) to the key file; returns it. */
  rotate(): AuditKey {
    if (!this.file) throw new AuditKeyError('audit keys come from Z4J_AUDIT_KEYS: add a key there (newest last) and restart');
    // The file as it is now: another replica may have rotated since this one read it, and the
    // next id must not be that rotation's (its key would be overwritten, its rows unverifiable).
    if (this.reload() === 'differs') throw new AuditKeyError(`the audit key file ${this.file} no longer holds the keys this service uses: not rotated`);
    if (!this.idsLeft) throw new AuditKeyError(`audit key ids are used up (the newest is ${MAX_AUDIT_KEY_ID})`);
    const next = { id: Math.max(...this.ids) + 1, key: randomBytes(32) };
    const keys = [...this.keys, next];
    AuditKeyRing.check(keys);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${formatAuditKeys(keys)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.keys = keys;
    this.byId.set(next.id, next.key);
    return next;
  }
}

export function formatAuditKeys(keys: AuditKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
}

/** `<id>:<base64>` comma-separated, newest last; null for an empty value. */
export function parseAuditKeys(value: string | undefined): AuditKey[] | null {
  if (!value?.trim()) return null;
  return value.split(',').map((part) => {
    const m = /^\s*(\d{1,10}):([A-Za-z0-9+/=_-]+)\s*$/.exec(part);
    if (!m) throw new AuditKeyError('expected <id>:<base64 key>');
    return { id: Number(m[1]), key: Buffer.from(m[2]!, 'base64') };
  });
}

export function auditKeysFromConfig(config: Config, log: Logger): AuditKeyRing {
  const keys = parseAuditKeys(config.Z4J_AUDIT_KEYS);
  if (keys) return new AuditKeyRing(keys);
  const file = join(config.Z4J_DATA_DIR, 'audit.key');
  if (createFileOnce(file, `${formatAuditKeys([{ id: 1, key: randomBytes(32) }])}\n`)) {
    log.warn({ file }, 'generated an audit key; back it up (or set Z4J_AUDIT_KEYS): without it the audit chain cannot be verified');
  }
  if (config.DATABASE_URL) log.warn('Z4J_AUDIT_KEYS is not set: using the key file in Z4J_DATA_DIR; replicas of the service must share it');
  return new AuditKeyRing(parseAuditKeys(readFileSync(file, 'utf8'))!, file);
}
