// Sealing: AES-256-GCM for what the service must keep but never show — the exact payload
// needed to retry a task, agent secrets (HMAC needs the secret itself, so it cannot be a
// hash). A sealed value carries its key id, so keys rotate: new values use the newest key,
// old values open with the key they name.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

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

  /** `keys` newest last; the newest seals, all of them open. */
  constructor(keys: SealKey[]) {
    if (!keys.length) throw new SealError('at least one seal key is required');
    for (const k of keys) {
      if (!Number.isInteger(k.id) || k.id < 1 || k.id > 255) throw new SealError(`seal key id ${k.id} is not in 1..255`);
      if (k.key.length !== 32) throw new SealError(`seal key ${k.id} must be 32 bytes, got ${k.key.length}`);
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.current = keys[keys.length - 1]!;
  }

  /** `aad` binds the sealed value to its row (e.g. project/engine/task id): moved elsewhere, it will not open. */
  seal(plain: Buffer | string, aad = ''): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(typeof plain === 'string' ? Buffer.from(plain) : plain), cipher.final()]);
    return Buffer.concat([Buffer.from([this.current.id]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer, aad = ''): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES) throw new SealError('sealed value is too short');
    const key = this.byId.get(sealed[0]!);
    if (!key) throw new SealError(`no seal key with id ${sealed[0]}`);
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
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
  return value.split(',').map((part) => {
    const m = /^\s*(\d{1,3}):([A-Za-z0-9+/=_-]+)\s*$/.exec(part);
    if (!m) throw new SealError('expected <id>:<base64 key>');
    return { id: Number(m[1]), key: Buffer.from(m[2]!, 'base64') };
  });
}
