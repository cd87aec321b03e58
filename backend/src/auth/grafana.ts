// Who the Grafana user is. Grafana's app plugin proxy overwrites `X-Grafana-Context` with
// the signed-in user (JSON of its SignedInUser); with the `idForwarding` feature toggle both
// proxies add `X-Grafana-Id`, an ES256 JWT verifiable with Grafana's JWKS. The context is
// trusted only next to the proxy secret, and, when GRAFANA_URL is set, only when a valid ID
// token names the same user and organization.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { ApiError } from '../api/errors.js';

export interface GrafanaUser {
  userId: number;
  uid: string | null;
  login: string;
  name: string | null;
  email: string | null;
  orgId: number;
  orgRole: string | null;
  isGrafanaAdmin: boolean;
  teams: number[];
}

const unauthorized = (code: string, message: string) => new ApiError(401, code, message);

const contextSchema = z
  .object({
    UserID: z.number().int().optional(),
    UserId: z.number().int().optional(),
    UserUID: z.string().max(256).optional(),
    Login: z.string().min(1).max(256),
    Name: z.string().max(256).optional().nullable(),
    Email: z.string().max(320).optional().nullable(),
    OrgID: z.number().int().optional(),
    OrgId: z.number().int().optional(),
    OrgRole: z.string().max(32).optional().nullable(),
    IsGrafanaAdmin: z.boolean().optional(),
    IsAnonymous: z.boolean().optional(),
    Teams: z.array(z.number().int()).max(10_000).optional().nullable(),
  })
  .loose();

/** Parses `X-Grafana-Context`; anonymous or malformed contexts are refused (401). */
export function parseGrafanaContext(header: string | undefined): GrafanaUser {
  if (!header) throw unauthorized('IDENTITY_MISSING', 'no Grafana user: call through the Grafana plugin proxy');
  if (header.length > 64 * 1024) throw unauthorized('IDENTITY_INVALID', 'X-Grafana-Context is too large');
  let raw: unknown;
  try {
    raw = JSON.parse(header);
  } catch {
    throw unauthorized('IDENTITY_INVALID', 'X-Grafana-Context is not JSON');
  }
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) throw unauthorized('IDENTITY_INVALID', 'X-Grafana-Context does not describe a user');
  const c = parsed.data;
  const userId = c.UserID ?? c.UserId ?? 0;
  const orgId = c.OrgID ?? c.OrgId ?? 0;
  if (c.IsAnonymous || userId <= 0) throw unauthorized('IDENTITY_ANONYMOUS', 'anonymous Grafana users cannot use z4j');
  if (orgId <= 0) throw unauthorized('IDENTITY_INVALID', 'X-Grafana-Context has no organization');
  return {
    userId, uid: c.UserUID || null, login: c.Login, name: c.Name || null, email: c.Email || null, orgId,
    orgRole: c.OrgRole || null, isGrafanaAdmin: c.IsGrafanaAdmin === true, teams: c.Teams ?? [],
  };
}

export interface IdTokenClaims extends JWTPayload {
  sub?: string;
  email?: string;
  /** Set (true) when Grafana verified the user's email; Grafana leaves it out otherwise. */
  email_verified?: boolean;
  username?: string;
  role?: string;
  uid?: string;
  identifier?: string;
}

/**
 * Verifies Grafana ID tokens: ES256 only (no `none`, no HS*), signature against Grafana's
 * JWKS (cached; refetched when a token names an unknown key id, at most once per
 * cooldown), expiry, issuer and an `org:<id>` audience.
 */
export class IdTokenVerifier {
  private readonly jwks: JWTVerifyGetKey;
  private readonly issuers: string[];

  constructor(opts: { grafanaUrl: string; issuer?: string; jwks?: JWTVerifyGetKey; cooldownMs?: number; clockToleranceS?: number }) {
    const base = opts.grafanaUrl.replace(/\/+$/, '');
    this.jwks = opts.jwks ?? createRemoteJWKSet(new URL(`${base}/api/signing-keys/keys`), {
      cooldownDuration: opts.cooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
    // Grafana's issuer is its root_url, which usually ends with a slash.
    const iss = (opts.issuer ?? base).replace(/\/+$/, '');
    this.issuers = [iss, `${iss}/`];
    this.clockToleranceS = opts.clockToleranceS ?? 5;
  }

  private readonly clockToleranceS: number;

  async verify(token: string): Promise<IdTokenClaims> {
    if (token.length > 16 * 1024) throw unauthorized('ID_TOKEN_INVALID', 'X-Grafana-Id is too large');
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        algorithms: ['ES256'],
        issuer: this.issuers,
        clockTolerance: this.clockToleranceS,
        requiredClaims: ['exp', 'sub', 'aud'],
      });
      return payload as IdTokenClaims;
    } catch (err) {
      const why =
        err instanceof joseErrors.JWTExpired ? 'expired'
        : err instanceof joseErrors.JWTClaimValidationFailed ? `claim ${err.claim} is wrong`
        : err instanceof joseErrors.JOSEAlgNotAllowed ? 'algorithm not allowed'
        : err instanceof joseErrors.JWKSNoMatchingKey ? 'signed by an unknown key'
        : err instanceof joseErrors.JWSSignatureVerificationFailed ? 'bad signature'
        : err instanceof joseErrors.JWKSTimeout || (err as { code?: string })?.code === 'ERR_JOSE_GENERIC' ? "cannot fetch Grafana's signing keys"
        : 'not a valid token';
      throw unauthorized('ID_TOKEN_INVALID', `X-Grafana-Id: ${why}`);
    }
  }
}

/** The email Grafana signed as verified in the ID token, or null. */
export const verifiedEmailOf = (claims: IdTokenClaims): string | null =>
  claims.email_verified === true && typeof claims.email === 'string' && claims.email ? claims.email : null;

/** The token and the context must name the same user in the same organization. */
export function requireAgreement(user: GrafanaUser, claims: IdTokenClaims): void {
  const sub = claims.sub ?? '';
  const m = /^(user|service-account):(.+)$/.exec(sub);
  const subjectOk = !!m && (m[2] === String(user.userId) || (user.uid !== null && m[2] === user.uid));
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const orgOk = aud.includes(`org:${user.orgId}`);
  const loginOk = claims.username === undefined || claims.username === user.login;
  const roleOk = claims.role === undefined || user.orgRole === null || claims.role === user.orgRole;
  if (!subjectOk || !orgOk || !loginOk || !roleOk) {
    throw unauthorized('ID_TOKEN_MISMATCH', 'X-Grafana-Id and X-Grafana-Context name different users or organizations');
  }
}

/**
 * A user known only from the ID token (the nested datasource's proxy sends no context):
 * org role from the token's `role` claim, no teams, never server admin.
 */
export function userFromClaims(claims: IdTokenClaims): GrafanaUser {
  const m = /^(user|service-account):(\d+)$/.exec(claims.sub ?? '');
  const aud = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).map((a) => /^org:(\d+)$/.exec(a ?? '')).find(Boolean);
  if (!m || !aud) throw unauthorized('ID_TOKEN_INVALID', 'X-Grafana-Id does not name a user and an organization');
  return {
    userId: Number(m[2]), uid: claims.uid ?? claims.identifier ?? null, login: claims.username ?? `user-${m[2]}`, name: null,
    email: claims.email ?? null, orgId: Number(aud[1]), orgRole: claims.role ?? null, isGrafanaAdmin: false, teams: [],
  };
}
