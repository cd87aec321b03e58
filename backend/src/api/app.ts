// Express glue: request ids, metrics per route, the route table (each route: caller
// authentication for its declared role, then its JSON body, then its handler, then the audit
// of a failed write), errors. Bodies are parsed after authentication, so an unauthenticated
// caller learns nothing from a malformed or oversized body.
import { randomUUID } from 'node:crypto';
import express from 'express';
import { auditFailedWrite } from '../audit/record.js';
import { MAX_BATCH_BYTES } from '../ingest/agentBatch.js';
import { authenticate } from '../auth/caller.js';
import type { ApiContext } from './context.js';
import { errorHandler, refuseUnstorableText, unknownRoute } from './errors.js';
import { openApiDocument } from './openapi.js';
import { ROUTES } from './routes.js';

export function createApp(ctx: ApiContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const id = typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128 ? req.headers['x-request-id'] : randomUUID();
    res.setHeader('x-request-id', id);
    res.on('finish', () => ctx.metrics.httpRequests.inc({ route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    next();
  });
  const json = express.json({ limit: '1mb' });
  // Agent batches are verified over the exact bytes that were signed: never parsed before that.
  const raw = express.raw({ type: () => true, limit: MAX_BATCH_BYTES });
  for (const route of ROUTES) {
    const body = route.role === 'agent' ? [raw] : [json, refuseUnstorableText];
    app[route.method](route.path, authenticate(ctx, route), ...body, route.handler(ctx), auditFailedWrite(ctx, route));
  }
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openApiDocument(ctx.version));
  });
  app.use(unknownRoute);
  app.use(errorHandler(ctx.log));
  return app;
}
