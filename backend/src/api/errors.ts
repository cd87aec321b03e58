// API errors carry a stable code; one handler turns them (and anything unexpected) into
// JSON {error: {code, message}} with the right status. Stacks go to the log only.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { isDataException } from '../db/db.js';
import type { Logger } from '../logger.js';
import { hasUnstorableText } from '../redact/redact.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string, code = 'NOT_FOUND') => new ApiError(404, code, `${what} not found`);

export const unknownRoute: RequestHandler = (req, _res, next) => next(new ApiError(404, 'ROUTE_NOT_FOUND', `no route ${req.method} ${req.path}`));

/** The API error an error stands for (anything unexpected is a 500 INTERNAL). */
export function toApiError(err: unknown): ApiError {
  const e = err as { type?: string; status?: unknown } | null;
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) {
    const i = err.issues[0]!;
    return new ApiError(400, 'BAD_REQUEST', `${i.path.join('.') || 'request'}: ${i.message}`);
  }
  if (e?.type === 'entity.parse.failed') return new ApiError(400, 'MALFORMED_JSON', 'request body is not valid JSON');
  if (e?.type === 'entity.too.large') return new ApiError(413, 'BODY_TOO_LARGE', 'request body is too large');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new ApiError(e.status, 'BAD_REQUEST', 'bad request');
  // PostgreSQL's data exceptions (class 22: a value out of range, a date that does not exist,
  // text it cannot store): what reaches them is a request's value that validation let through.
  if (isDataException(err)) return new ApiError(400, 'BAD_REQUEST', 'a value in the request is out of range or not valid text');
  // statement_timeout (the read pool's Z4J_QUERY_TIMEOUT_S): the request asked too much at once.
  if ((err as { code?: unknown } | null)?.code === '57014') {
    return new ApiError(503, 'QUERY_TIMEOUT', 'the query took too long and was cancelled: narrow the time range or add filters');
  }
  return new ApiError(500, 'INTERNAL', 'internal error');
}


/**
 * Refuses a request whose path, query or JSON body (keys included) holds text PostgreSQL cannot
 * store, with a 400 naming where, before any handler passes it to a query.
 */
export const refuseUnstorableText: RequestHandler = (req, _res, next) => {
  const pending: [string, unknown][] = [['path', req.params], ['query', req.query], ['body', req.body]];
  while (pending.length) {
    const [where, value] = pending.pop()!;
    if (typeof value === 'string') {
      if (hasUnstorableText(value)) return next(new ApiError(400, 'BAD_REQUEST', `${where}: text with a NUL character or a broken surrogate pair`));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (hasUnstorableText(k)) return next(new ApiError(400, 'BAD_REQUEST', `${where}: a key with a NUL character or a broken surrogate pair`));
        pending.push([`${where}.${k}`.slice(0, 200), v]);
      }
    }
  }
  next();
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toApiError(err);
    if (e.status >= 500) log.error({ err, method: req.method, path: req.path }, 'unhandled error');
    if (res.headersSent) return;
    res.status(e.status).json({ error: { code: e.code, message: e.message } });
  };
}
