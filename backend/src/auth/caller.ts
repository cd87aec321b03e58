// The caller authentication middleware, driven by each route's declared role: who is
// calling (Grafana user behind the proxy secret, or an API token), which project the call
// is about, and whether their role there is high enough. 401 and 403 are audited.
import type { Request, RequestHandler, Response } from 'express';
import { appendAudit, requestMeta } from '../audit/record.js';
import type { AuditActor } from '../audit/chain.js';
import type { ApiContext } from '../api/context.js';
import { ApiError } from '../api/errors.js';
import type { Route } from '../api/routes.js';
import { lookupApiToken } from './apiTokens.js';
import { parseGrafanaContext, requireAgreement, userFromClaims, verifiedEmailOf, type GrafanaUser } from './grafana.js';
import { atLeast, lower, mappedRole, memberOrMapped, roleMappingOf, type ProjectRole, type RoleMapping } from './roles.js';
import { sameSecret } from './secrets.js';
import { makerRole, noteMakerCall, rolesOf, type TokenMaker } from './tokenMakers.js';

/** Header names the Grafana proxy routes set (see README "Connecting Grafana"). */
export const HEADERS = {
  proxySecret: 'x-z4j-proxy-secret',
  /** Set to `datasource` by the nested datasource's proxy route: it sends no X-Grafana-Context, so none is trusted. */
  via: 'x-z4j-via',
  context: 'x-grafana-context',
  idToken: 'x-grafana-id',
} as const;

export type Caller =
  /** `verifiedEmail`: the email the verified ID token says Grafana verified; null without one (or unverified). */
  | { kind: 'user'; user: GrafanaUser; via: 'app' | 'datasource'; verifiedEmail: string | null }
  /** `role` as minted; `maker` null for a token made before makers were recorded. */
  | { kind: 'token'; tokenId: string; name: string; projectId: number; role: ProjectRole; maker: TokenMaker | null };

export interface ProjectRef {
  id: number;
  slug: string;
  name: string;
  roleMapping: RoleMapping;
}

export interface RequestAuth {
  caller: Caller;
  /** Null on routes that are not about one project (role `user`). */
  project: ProjectRef | null;
  /** The role the caller acts with: for a token, its own capped by its maker's. */
  role: ProjectRole | null;
}

export function authOf(res: Response): RequestAuth {
  const auth = res.locals.auth as RequestAuth | undefined;
  if (!auth) throw new ApiError(401, 'CREDENTIALS_MISSING', 'not authenticated');
  return auth;
}

/** The project of a project-scoped route (set by the middleware). */
export function projectOfAuth(res: Response): ProjectRef {
  const p = authOf(res).project;
  if (!p) throw new Error('route has no project');
  return p;
}

export function actorOf(caller: Caller | null): AuditActor {
  if (!caller) return { kind: 'anonymous', id: null, name: null };
  if (caller.kind === 'token') return { kind: 'token', id: caller.tokenId, name: caller.name };
  return { kind: 'user', id: String(caller.user.userId), name: caller.user.login };
}

/**
 * Who acted, in one word, as the audit log shows its actor (the user's login, the token's name):
 * what commands, bulk jobs and schedule runs record as requested by, and task reasons say.
 */
export function actorName(caller: Caller | null): string {
  const actor = actorOf(caller);
  return actor.name ?? actor.id ?? 'anonymous';
}

/**
 * What an audit row adds when a token acts below the role it was minted with (its maker's
 * role caps it): the role it acted with and its own. Nothing otherwise.
 */
export function cappedTokenDetail(caller: Caller | null, role: ProjectRole | null): { actedAs: ProjectRole | null; tokenRole: ProjectRole } | null {
  return caller?.kind === 'token' && role !== caller.role ? { actedAs: role, tokenRole: caller.role } : null;
}

const unauthorized = (code: string, message: string) => new ApiError(401, code, message);
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Works out the caller from the request's headers; throws 401 ApiErrors. */
export async function identify(ctx: ApiContext, req: Request): Promise<Caller> {
  const secret = req.get(HEADERS.proxySecret);
  if (secret === undefined) {
    const authz = req.get('authorization');
    if (authz && /^Bearer\s+/i.test(authz)) return lookupApiToken(ctx, authz.replace(/^Bearer\s+/i, '').trim());
    throw unauthorized('CREDENTIALS_MISSING', 'call through the Grafana plugin proxy (it adds the proxy secret) or with an API token');
  }
  if (!sameSecret(secret, ctx.auth.proxySecret.value)) throw unauthorized('PROXY_SECRET_WRONG', 'the proxy secret is wrong: check the z4j app configuration in Grafana');
  const via = req.get(HEADERS.via) === 'datasource' ? 'datasource' : 'app';
  if (ctx.auth.idTokens) {
    const token = req.get(HEADERS.idToken);
    if (!token) throw unauthorized('ID_TOKEN_MISSING', 'X-Grafana-Id is required: enable the idForwarding feature toggle in Grafana');
    const claims = await ctx.auth.idTokens.verify(token);
    const verifiedEmail = verifiedEmailOf(claims);
    if (via === 'datasource') return { kind: 'user', user: userFromClaims(claims), via, verifiedEmail };
    const user = parseGrafanaContext(req.get(HEADERS.context));
    requireAgreement(user, claims);
    return { kind: 'user', user, via, verifiedEmail };
  }
  if (via === 'datasource') throw unauthorized('ID_TOKEN_MISSING', 'the datasource proxy sends no user context: set GRAFANA_URL and enable idForwarding in Grafana');
  return { kind: 'user', user: parseGrafanaContext(req.get(HEADERS.context)), via, verifiedEmail: null };
}

/** The slug a request is about: the `:project` path parameter, else `?project=`, else the configured default. */
export function projectSlugOf(ctx: ApiContext, req: Request): string {
  const raw = req.params?.project ?? req.query.project ?? ctx.config.Z4J_PROJECT;
  if (typeof raw !== 'string' || !SLUG.test(raw)) throw new ApiError(400, 'BAD_REQUEST', 'project: not a project slug');
  return raw;
}

export async function findProject(ctx: ApiContext, slug: string): Promise<ProjectRef | null> {
  const row = (await ctx.db.query<{ id: number; slug: string; name: string; role_mapping: unknown }>(
    'SELECT id, slug, name, role_mapping FROM projects WHERE slug = $1 AND deleted_at IS NULL',
    [slug],
  )).rows[0];
  if (!row) return null;
  return { id: Number(row.id), slug: row.slug, name: row.name, roleMapping: roleMappingOf(row.role_mapping) };
}

/**
 * The caller's role in a project. A user's: an explicit membership, else the mapping
 * (memberOrMapped). A token's: its own, capped by its maker's role there now (tokenMakers.ts);
 * a token made before makers were recorded keeps its own role, as it always did.
 */
export async function roleIn(ctx: ApiContext, caller: Caller, project: ProjectRef): Promise<ProjectRole | null> {
  if (caller.kind === 'token') {
    if (caller.projectId !== project.id) return null;
    if (!caller.maker) return caller.role;
    const { member, seen } = await rolesOf(ctx.db, project.id, caller.maker);
    return lower(caller.role, makerRole(project.roleMapping, caller.maker, member, seen));
  }
  const { member, seen, stale } = await rolesOf(ctx.db, project.id, caller.user);
  // A token maker's Grafana roles, read with the membership anyway, are kept for their tokens' cap.
  if (seen) {
    // Best effort: a write that fails (a read-only failover, a lock timeout) must not fail the
    // maker's own request; their tokens keep the cap last written, and the next call tries again.
    await noteMakerCall(ctx.db, caller.user, caller.via, seen, stale).catch((err: unknown) =>
      ctx.log.warn({ err: (err as Error).message, userId: caller.user.userId }, "could not note a token maker's Grafana roles"),
    );
  }
  return memberOrMapped(member, mappedRole(project.roleMapping, caller.user));
}

/**
 * Refused attempts without credentials are audited, but at most this many per client address per
 * minute, per replica: the windows are this process's, so a refusal past the limit costs no
 * database round trip (a flood of them would otherwise move from the chain to a shared counter).
 */
const REFUSALS_PER_MINUTE = 30;
const refusalWindows = new Map<string, { start: number; n: number }>();

/**
 * Whether one more refusal of `who` (a client address, or an identified caller) is audited this
 * minute. Each audit row takes the project's chain lock: refusals past the limit are counted
 * (z4j_auth_refused_total, audited "no"), not written, so no caller can flood the chain.
 */
function underRefusalLimit(who: string): boolean {
  const now = Date.now();
  const w = refusalWindows.get(who);
  if (!w || now - w.start > 60_000) {
    if (refusalWindows.size > 10_000) refusalWindows.clear();
    refusalWindows.set(who, { start: now, n: 1 });
    return true;
  }
  return ++w.n <= REFUSALS_PER_MINUTE;
}

const callerKey = (c: Caller) => (c.kind === 'user' ? `user:${c.user.orgId}:${c.user.userId}` : `token:${c.tokenId}`);

/**
 * Whether one more refused write of this identified caller is audited this minute (shares the
 * caller's ROLE_TOO_LOW window). For the routes of no project (creating a project, accepting an
 * invitation): any signed-in Grafana user reaches them, role or not, and their refusals go to a
 * project's chain; without the limit one could append to it without end.
 */
export const refusalAudited = (c: Caller): boolean => underRefusalLimit(callerKey(c));

/**
 * What a refused or failed call to `route` is audited as: the action and target its success
 * would have (the route's `audit` and `target`, made from the call's path parameters), else
 * `<METHOD> <path>` and the URL.
 */
export function refusalAs(route: Route, req: Request): { action: string; target: string } {
  const params = req.params as Record<string, string>;
  const action = typeof route.audit === 'function' ? route.audit(params) : (route.audit ?? `${route.method.toUpperCase()} ${route.path}`);
  return { action, target: (route.target ? route.target(params) : req.originalUrl).slice(0, 512) };
}

async function auditUnauthenticated(ctx: ApiContext, req: Request, res: Response, route: Route, err: ApiError, projectId: number | null): Promise<void> {
  try {
    let pid = projectId;
    if (pid === null) {
      const slug = (() => {
        try {
          return projectSlugOf(ctx, req);
        } catch {
          return null;
        }
      })();
      pid = slug ? ((await findProject(ctx, slug))?.id ?? null) : null;
    }
    const meta = requestMeta(req, res);
    if (pid === null || !underRefusalLimit(meta.ip ?? '?')) {
      ctx.metrics.authRefused.inc({ status: '401', code: err.code, audited: 'no' });
      return;
    }
    ctx.metrics.authRefused.inc({ status: '401', code: err.code, audited: 'yes' });
    await appendAudit(ctx, {
      ...meta, projectId: pid, actor: actorOf(null), ...refusalAs(route, req), outcome: 'refused',
      detail: { status: 401, code: err.code },
    });
  } catch (e) {
    ctx.log.warn({ err: String(e) }, 'could not audit a refused request');
  }
}

/** The middleware for one route of the table. `public` and `agent` routes pass through. */
export function authenticate(ctx: ApiContext, route: Route): RequestHandler {
  return async (req, res, next) => {
    if (route.role === 'public' || route.role === 'agent') return next();
    let caller: Caller;
    try {
      caller = await identify(ctx, req);
    } catch (err) {
      // A token that exists but is revoked or expired names its project: the refusal is audited there.
      if (err instanceof ApiError && err.status === 401) await auditUnauthenticated(ctx, req, res, route, err, (err as ApiError & { projectId?: number }).projectId ?? null);
      throw err;
    }
    if (route.role === 'user') {
      res.locals.auth = { caller, project: null, role: null } satisfies RequestAuth;
      return next();
    }
    const slug = projectSlugOf(ctx, req);
    const project = await findProject(ctx, slug);
    if (!project) throw new ApiError(404, 'PROJECT_NOT_FOUND', `project '${slug}' not found`);
    const role = await roleIn(ctx, caller, project);
    if (!atLeast(role, route.role)) {
      const capped = cappedTokenDetail(caller, role);
      const audited = underRefusalLimit(callerKey(caller));
      ctx.metrics.authRefused.inc({ status: '403', code: 'ROLE_TOO_LOW', audited: audited ? 'yes' : 'no' });
      if (audited) {
        await appendAudit(ctx, {
          ...requestMeta(req, res), projectId: project.id, actor: actorOf(caller), ...refusalAs(route, req), outcome: 'refused',
          detail: { status: 403, code: 'ROLE_TOO_LOW', needed: route.role, role, ...(capped ? { tokenRole: capped.tokenRole } : {}) },
        });
      }
      const why = capped ? ` (this token's ${capped.tokenRole} role is capped by its maker's role in the project)` : '';
      throw new ApiError(403, 'ROLE_TOO_LOW', `this needs the ${route.role} role in project '${slug}'; you have ${role ?? 'none'}${why}`);
    }
    res.locals.auth = { caller, project, role } satisfies RequestAuth;
    next();
  };
}
