// Random secrets, their hashes, constant-time comparison, and the proxy secret (configured,
// or generated once into the data directory so `npm start` works with nothing set).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { createFileOnce } from '../dataDir.js';
import type { Logger } from '../logger.js';

/** `<prefix>` + 256 random bits, base64url. */
export const newSecret = (prefix: string): string => `${prefix}${randomBytes(32).toString('base64url')}`;

export const newId = (prefix: string): string => `${prefix}${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;

/** sha256: enough for 256-bit random tokens (nothing to brute-force, so no slow hash). */
export const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** Constant-time equality of two strings (compared as sha256 digests, so lengths do not leak). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(hashSecret(a), hashSecret(b));
}

export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ProxySecret {
  value: string;
  /** Where it came from: the environment, or the file it was generated into. */
  source: 'Z4J_PROXY_SECRET' | string;
}

export function proxySecretFromConfig(config: Config, log: Logger): ProxySecret {
  if (config.Z4J_PROXY_SECRET) return { value: config.Z4J_PROXY_SECRET, source: 'Z4J_PROXY_SECRET' };
  const file = join(config.Z4J_DATA_DIR, 'proxy.secret');
  if (createFileOnce(file, `${newSecret('')}\n`)) {
    log.warn({ file }, 'generated the proxy secret: paste the content of this file into the z4j app configuration page in Grafana (or set Z4J_PROXY_SECRET)');
  }
  const value = readFileSync(file, 'utf8').trim();
  if (value.length < 16) throw new Error(`${file} holds no usable proxy secret (16+ characters); delete it to generate a new one`);
  return { value, source: file };
}
