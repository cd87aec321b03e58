// Shared bits of the identity handlers: who the caller is in words, and role checks that
// depend on the request body (nobody grants more than they hold; Owner only by an Owner).
import type { Caller } from '../../auth/caller.js';
import { atLeast, type ProjectRole } from '../../auth/roles.js';
import { ApiError } from '../errors.js';
import { z } from 'zod';

/** `user:<login>` or `token:<id>`: how rows record who created them. */
export const callerLabel = (c: Caller): string => (c.kind === 'user' ? `user:${c.user.login}` : `token:${c.tokenId}`);

export function requireGrantable(callerRole: ProjectRole | null, role: ProjectRole): void {
  if (!atLeast(callerRole, role)) throw new ApiError(403, 'ROLE_TOO_LOW', `only a ${role} (or higher) can grant the ${role} role`);
}

export function requireUser(c: Caller): Extract<Caller, { kind: 'user' }> {
  if (c.kind !== 'user') throw new ApiError(403, 'USER_REQUIRED', 'this needs a Grafana user, not an API token');
  return c;
}

export const nameSchema = z.string().trim().min(1).max(200);
export const idParam = z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'not an id');
