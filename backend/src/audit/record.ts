// How features write the audit log: `appendAudit(ctx, entry, tx?)` for one row, and
// `auditRequest(ctx, req, res, fields, tx?)` for the row of an API request (actor, project,
// client address and request id filled in from the authenticated request).
import type { ErrorRequestHandler, Request, Response } from 'express';
import { toApiError } from '../api/errors.js';
import type { Queryable } from '../db/db.js';
import type { AuditEntry, AuditLog, AuditOutcome } from './chain.js';
import { actorOf, cappedTokenDetail, findProject, refusalAudited, refusalAs, type RequestAuth } from '../auth/caller.js';
import type { Route } from '../api/routes.js';
import type { ApiContext } from '../api/context.js';

export function appendAudit(ctx: { audit: AuditLog }, entry: AuditEntry, tx?: Queryable): Promise<{ seq: number }> {
  return ctx.audit.append(entry, tx);
}

/** Where a request came from: the peer address (Grafana, for proxied calls) and the X-Forwarded-For it reported (informational: a browser can set it). */
export function requestMeta(req: Request, res: Response): Pick<AuditEntry, 'ip' | 'forwardedFor' | 'requestId'> {
  const rid = res.getHeader('x-request-id');
  return {
    ip: req.socket?.remoteAddress ?? null,
    forwardedFor: req.get('x-forwarded-for') ?? null,
    requestId: typeof rid === 'string' ? rid : null,
  };
}

export interface RequestAuditFields {
  action: string;
  target?: string | null;
  outcome?: AuditOutcome;
  detail?: Record<string, unknown> | null;
  /** Defaults to the request's project. */
  projectId?: number;
}

/**
 * Appends the audit row of an authenticated request and marks the request as audited. A token
 * acting below its own role (capped by its maker's) has both in the detail: `actedAs`, `tokenRole`.
 */
export async function auditRequest(ctx: { audit: AuditLog }, req: Request, res: Response, f: RequestAuditFields, tx?: Queryable): Promise<void> {
  const auth = res.locals.auth as RequestAuth;
  const projectId = f.projectId ?? auth.project?.id;
  if (projectId === undefined) throw new Error(`audit row '${f.action}' has no project`);
  const capped = auth.project ? cappedTokenDetail(auth.caller, auth.role) : null;
  const detail = capped ? { ...f.detail, ...capped } : f.detail ?? null;
  await ctx.audit.append({ ...requestMeta(req, res), projectId, actor: actorOf(auth.caller), action: f.action, target: f.target ?? null, outcome: f.outcome ?? 'ok', detail }, tx);
  res.locals.audited = true;
}

/**
 * The refusal of a route of no project (creating one, the service's readiness) to a signed-in
 * user whose role is too low. The refusal goes to the configured project's chain, and any
 * signed-in user gets here: audited up to the per-caller refusal limit, so none floods it.
 */
export async function auditRefusalOfNoProject(ctx: ApiContext, req: Request, res: Response, action: string, target: string): Promise<void> {
  const auth = res.locals.auth as RequestAuth;
  const home = await findProject(ctx, ctx.config.Z4J_PROJECT);
  if (home && refusalAudited(auth.caller)) await auditRequest(ctx, req, res, { projectId: home.id, action, target, outcome: 'refused', detail: { status: 403, code: 'ROLE_TOO_LOW' } });
}

/**
 * Error middleware after a route's handler: a write that an authenticated caller attempted
 * and that failed (invalid input, a conflict, an internal error) is audited as refused or
 * error, unless the handler already wrote its own row. Routes of no project (creating one)
 * write to the configured project's chain, as their refusals do. A GET, or a POST that only
 * reads (`readOnly` in routes.ts, e.g. a cron preview), is not a write: not audited here.
 */
export function auditFailedWrite(ctx: ApiContext, route: Route): ErrorRequestHandler {
  return (err, req, res, next) => {
    const auth = res.locals.auth as RequestAuth | undefined;
    if (req.method === 'GET' || route.readOnly || !auth || res.locals.audited) return next(err);
    // A route of no project is open to every signed-in user: their refusals are rate limited (refusalAudited).
    if (!auth.project && !refusalAudited(auth.caller)) return next(err);
    const e = toApiError(err);
    const projectId = auth.project ? Promise.resolve(auth.project.id) : findProject(ctx, ctx.config.Z4J_PROJECT).then((p) => p?.id);
    projectId
      .then((id) => id === undefined ? undefined : auditRequest(ctx, req, res, { projectId: id, ...refusalAs(route, req), outcome: e.status < 500 ? 'refused' : 'error', detail: { status: e.status, code: e.code } }))
      .catch((auditErr) => ctx.log.warn({ err: String(auditErr) }, 'could not audit a failed write'))
      .finally(() => next(err));
  };
}
