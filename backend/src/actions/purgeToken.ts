// Purge confirmation tokens: the preview hands one out, the purge requires it. Sealed (so it
// cannot be forged or edited), bound to the project, queue, filter and user, and short-lived.
// Single use is enforced by the command it creates (its id is the idempotency key).
import { randomUUID } from 'node:crypto';
import type { Sealer } from '../crypto/seal.js';

export interface PurgeClaims {
  jti: string;
  projectId: number;
  engine: string;
  queue: string;
  filter: Record<string, unknown>;
  user: string;
  depth: number | null;
  exp: number;
}

export class PurgeTokenError extends Error {
  constructor(readonly code: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_MISMATCH', message: string) {
    super(message);
  }
}

const AAD = 'purge-token:v1';

export function issuePurgeToken(sealer: Sealer, claims: Omit<PurgeClaims, 'jti' | 'exp'>, ttlS: number, now = Date.now()): { token: string; claims: PurgeClaims } {
  const full: PurgeClaims = { ...claims, jti: randomUUID(), exp: now + ttlS * 1000 };
  return { token: sealer.seal(JSON.stringify(full), AAD).toString('base64url'), claims: full };
}

export function verifyPurgeToken(sealer: Sealer, token: string, expected: Pick<PurgeClaims, 'projectId' | 'engine' | 'queue' | 'user'> & { filter: Record<string, unknown> }, now = Date.now()): PurgeClaims {
  let claims: PurgeClaims;
  try {
    claims = JSON.parse(sealer.open(Buffer.from(token, 'base64url'), AAD).toString('utf8'));
  } catch {
    throw new PurgeTokenError('TOKEN_INVALID', 'the confirmation token is not valid: preview the purge again');
  }
  if (claims.exp < now) throw new PurgeTokenError('TOKEN_EXPIRED', 'the confirmation token has expired: preview the purge again');
  const same = claims.projectId === expected.projectId && claims.engine === expected.engine && claims.queue === expected.queue
    && claims.user === expected.user && JSON.stringify(claims.filter) === JSON.stringify(expected.filter);
  if (!same) throw new PurgeTokenError('TOKEN_MISMATCH', 'the confirmation token was issued for another queue, filter or user');
  return claims;
}
