// Sealing: AES-256-GCM for what the service must keep but never show — the exact payload
// needed to retry a task, agent secrets (HMAC needs the secret itself, so it cannot be a
// hash). A sealed value carries its key id, so keys rotate: new values use the newest key,
// old values open with the key they name.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEAD_BYTES = 1 + IV_BYTES + TAG_BYTES;
/** IVs drawn from the CSPRNG this many at a time: one call per seal cost a third of sealing. */
const IVS_PER_DRAW = 1024;

/** The largest seal key id: a sealed value names its key in its first byte. */
export const MAX_SEAL_KEY_ID = 255;

export interface SealKey {
  /** 1 … 255, stored in the first byte of every sealed value. */
  id: number;
  /** 32 bytes. */
  key: Buffer;
}

export class SealError extends Error {}

export class Sealer {
  private readonly byId: Map<number, Buffer>;
  private readonly current: SealKey;
  /** The current key prepared once, not from its bytes on every seal. */
  private readonly currentKey: KeyObject;
  private ivs = Buffer.alloc(0);
  private ivAt = 0;

  /** `keys` newest last; the newest seals, all of them open. */
  constructor(keys: SealKey[]) {
    if (!keys.length) throw new SealError('at least one seal key is required');
    for (const k of keys) {
      if (!Number.isInteger(k.id) || k.id < 1 || k.id > MAX_SEAL_KEY_ID) {
        throw new SealError(`seal key id ${k.id} is not in 1..${MAX_SEAL_KEY_ID} (a sealed value names its key in one byte)`);
      }
      if (k.key.length !== 32) throw new SealError(`seal key ${k.id} must be 32 bytes, got ${k.key.length}`);
    }
    // Two keys of one id: values sealed with the first would never open again.
    const dup = keys.find((k, i) => keys.findIndex((o) => o.id === k.id) !== i);
    if (dup) throw new SealError(`seal key id ${dup.id} is given twice: ids must be unique`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.current = keys[keys.length - 1]!;
    this.currentKey = createSecretKey(this.current.key);
  }

  /** A fresh random IV; never one handed out before (GCM's one rule). */
  private nextIv(): Buffer {
    if (this.ivAt + IV_BYTES > this.ivs.length) {
      this.ivs = randomBytes(IV_BYTES * IVS_PER_DRAW);
      this.ivAt = 0;
    }
    return this.ivs.subarray(this.ivAt, (this.ivAt += IV_BYTES));
  }

  /** `aad` binds the sealed value to its row (e.g. project/engine/task id): moved elsewhere, it will not open. */
  seal(plain: Buffer | string, aad = ''): Buffer {
    const iv = this.nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.currentKey, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = typeof plain === 'string' ? cipher.update(plain, 'utf8') : cipher.update(plain);
    const tail = cipher.final(); // empty for GCM (a stream mode); it computes the tag
    const out = Buffer.allocUnsafe(HEAD_BYTES + body.length + tail.length);
    out[0] = this.current.id;
    iv.copy(out, 1);
    cipher.getAuthTag().copy(out, 1 + IV_BYTES);
    body.copy(out, HEAD_BYTES);
    tail.copy(out, HEAD_BYTES + body.length);
    return out;
  }

  open(sealed: Buffer, aad = ''): Buffer {
    if (sealed.length < HEAD_BYTES) throw new SealError('sealed value is too short');
    const key = this.byId.get(sealed[0]!);
    if (!key) throw new SealError(`no seal key with id ${sealed[0]}`);
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(HEAD_BYTES)), decipher.final()]);
    } catch {
      throw new SealError('sealed value does not open (wrong key, wrong row, or tampered)');
    }
  }
}

/**
 * Parses `Z4J_SEAL_KEYS`: comma-separated `<id>:<base64 of 32 bytes>`, newest last.
 * Returns null for an empty value (the caller then uses a key file in the data directory).
 */
export function parseSealKeys(value: string | undefined): SealKey[] | null {
  if (!value?.trim()) return null;
  return value.split(',').map((part, i) => {
    // Any number of digits: an id out of range gets its own message (Sealer), not this one.
    const m = /^\s*(\d+):([A-Za-z0-9+/=_-]+)\s*$/.exec(part);
    if (!m) throw new SealError(`key ${i + 1} is not <id>:<base64 of 32 bytes>`);
    return { id: Number(m[1]), key: Buffer.from(m[2]!, 'base64') };
  });
}
