// API errors carry a stable code; one handler turns them (and anything unexpected) into
// JSON {error: {code, message}} with the right status. Stacks go to the log only.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import type { Logger } from '../logger.js';

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

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err instanceof ZodError) {
      const i = err.issues[0]!;
      e = new ApiError(400, 'BAD_REQUEST', `${i.path.join('.') || 'request'}: ${i.message}`);
    } else if (err?.type === 'entity.parse.failed') e = new ApiError(400, 'MALFORMED_JSON', 'request body is not valid JSON');
    else if (err?.type === 'entity.too.large') e = new ApiError(413, 'BODY_TOO_LARGE', 'request body is too large');
    else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) e = new ApiError(err.status, 'BAD_REQUEST', 'bad request');
    else {
      log.error({ err, method: req.method, path: req.path }, 'unhandled error');
      e = new ApiError(500, 'INTERNAL', 'internal error');
    }
    res.status(e.status).json({ error: { code: e.code, message: e.message } });
  };
}
