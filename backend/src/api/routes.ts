// Every route of the service in one table: method, path, the project role it needs, and its
// handler. Express glue lives in app.ts; the OpenAPI document must describe each route here.
import type { NextFunction, Request, Response } from 'express';
import type { ApiContext } from './context.js';
import { bulkCancel, bulkGet, bulkOutcomes, bulkPreview, bulkStart, capabilities, getCommand, purgePreview, purgeQueue, requeueDeadLetters, taskAction, workerAction, workerShutdown } from './handlers/actions.js';
import { getTask } from './handlers/getTask.js';
import { health, metrics, ready } from './handlers/health.js';
import { listQueues } from './handlers/listQueues.js';
import { listTasks } from './handlers/listTasks.js';
import { listWorkers } from './handlers/listWorkers.js';

export type Handler = (req: Request, res: Response, next: NextFunction) => Promise<void>;

/**
 * Project roles, lowest first. `public` routes need no caller (probes, metrics scrapes);
 * `agent` routes are called by agents, authenticated by their batch signature instead of
 * the Grafana proxy secret.
 */
export type Role = 'public' | 'agent' | 'viewer' | 'operator' | 'admin' | 'owner';

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  role: Role;
  handler: (ctx: ApiContext) => Handler;
}

export const ROUTES: readonly Route[] = [
  { method: 'get', path: '/healthz', role: 'public', handler: health },
  { method: 'get', path: '/readyz', role: 'public', handler: ready },
  { method: 'get', path: '/metrics', role: 'public', handler: metrics },
  { method: 'get', path: '/api/healthz', role: 'viewer', handler: health },
  { method: 'get', path: '/api/tasks', role: 'viewer', handler: listTasks },
  { method: 'get', path: '/api/tasks/:engine/:taskId', role: 'viewer', handler: getTask },
  { method: 'get', path: '/api/workers', role: 'viewer', handler: listWorkers },
  { method: 'get', path: '/api/queues', role: 'viewer', handler: listQueues },
  { method: 'get', path: '/api/capabilities', role: 'viewer', handler: capabilities },
  { method: 'post', path: '/api/tasks/:engine/:taskId/actions/:action', role: 'operator', handler: taskAction },
  { method: 'post', path: '/api/workers/:engine/:hostname/actions/:action', role: 'operator', handler: workerAction },
  { method: 'post', path: '/api/workers/:engine/:hostname/shutdown', role: 'admin', handler: workerShutdown },
  { method: 'post', path: '/api/queues/:engine/:queue/purge-preview', role: 'admin', handler: purgePreview },
  { method: 'post', path: '/api/queues/:engine/:queue/purge', role: 'admin', handler: purgeQueue },
  { method: 'post', path: '/api/queues/:engine/:queue/requeue-dead-letters', role: 'operator', handler: requeueDeadLetters },
  { method: 'post', path: '/api/bulk/preview', role: 'operator', handler: bulkPreview },
  { method: 'post', path: '/api/bulk', role: 'operator', handler: bulkStart },
  { method: 'get', path: '/api/bulk/:id', role: 'viewer', handler: bulkGet },
  { method: 'get', path: '/api/bulk/:id/outcomes', role: 'viewer', handler: bulkOutcomes },
  { method: 'post', path: '/api/bulk/:id/cancel', role: 'operator', handler: bulkCancel },
  { method: 'get', path: '/api/commands/:id', role: 'viewer', handler: getCommand },
];
