// The OpenAPI 3.1 description of the API, served at /api/openapi.json. A test checks
// that every route in routes.ts is described here.
import { ENGINES, TASK_KINDS } from '../ingest/envelope.js';
import { identityPaths, identitySchemas } from './openapiIdentity.js';
import { ROUTES } from './routes.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const time = nullable('string', { format: 'date-time' });
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = {
  '400': json(ref('Error'), 'Bad request (code BAD_REQUEST, BAD_CURSOR)'),
  '404': json(ref('Error'), 'Not found (code PROJECT_NOT_FOUND, TASK_NOT_FOUND)'),
};
const projectParam = { name: 'project', in: 'query', schema: { type: 'string' }, description: 'Project slug (default: the configured project).' };
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', schema, description });

const taskProperties = {
  id: { type: 'string', description: 'Internal row id.' },
  engine: { type: 'string', enum: ENGINES },
  taskId: { type: 'string' },
  name: nullable('string'),
  queue: nullable('string'),
  state: { type: 'string', enum: TASK_KINDS },
  args: { description: 'Redacted positional arguments (JSON, or the engine repr string).' },
  kwargs: { description: 'Redacted keyword arguments.' },
  result: { description: 'Redacted result.' },
  exception: nullable('string'),
  worker: nullable('string'),
  retries: { type: 'integer' },
  rootId: nullable('string'),
  parentId: nullable('string'),
  groupId: nullable('string'),
  eta: time,
  sentAt: time,
  receivedAt: time,
  startedAt: time,
  finishedAt: time,
  runtimeMs: nullable('number'),
  waitMs: nullable('number'),
  firstSeenAt: { type: 'string', format: 'date-time' },
  lastEventAt: { type: 'string', format: 'date-time' },
};

export function openApiDocument(version: string) {
  const doc = document(version);
  // Each operation states the role routes.ts declares for it.
  for (const r of ROUTES) {
    const op = (doc.paths as Record<string, Record<string, Record<string, unknown>>>)[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method];
    if (op) op['x-z4j-role'] = r.role;
  }
  return doc;
}

function document(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'z4j service API',
      version,
      description:
        'Tasks, workers and queues of Python task queues, as z4j observed them. Every route except probes and metrics needs the ' +
        'Grafana proxy secret (X-Z4J-Proxy-Secret, with X-Grafana-Context and, when configured, X-Grafana-Id) or an API token ' +
        '(Authorization: Bearer z4j_…); each declares the project role it needs (x-z4j-role).',
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness', responses: { '200': json(ref('Health')) } } },
      '/readyz': { get: { summary: 'Readiness: storage reachable; ingest and source status', responses: { '200': json({ type: 'object' }), '503': json({ type: 'object' }, 'Storage unreachable') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/api/healthz': { get: { summary: 'Service version, storage and engines reporting', responses: { '200': json(ref('Health')) } } },
      '/api/openapi.json': { get: { summary: 'This document', responses: { '200': json({ type: 'object' }) } } },
      '/api/tasks': {
        get: {
          summary: 'List tasks, newest first, with filters and keyset pagination',
          parameters: [
            projectParam,
            q('engine', 'Comma-separated engines.'),
            q('state', 'Comma-separated states.'),
            q('name', 'Exact task name.'),
            q('queue', 'Exact queue name.'),
            q('worker', 'Exact worker hostname.'),
            q('from', 'First seen at or after (ISO 8601 or epoch ms).'),
            q('to', 'First seen before (ISO 8601 or epoch ms).'),
            q('q', 'Free text over task id, name and arguments (case-insensitive substring).'),
            q('limit', 'Page size, 1–500 (default 50).', { type: 'integer', minimum: 1, maximum: 500 }),
            q('cursor', 'nextCursor of the previous page.'),
          ],
          responses: { '200': json({ type: 'object', required: ['tasks', 'nextCursor'], properties: { tasks: { type: 'array', items: ref('Task') }, nextCursor: nullable('string') } }), ...errors },
        },
      },
      '/api/tasks/{engine}/{taskId}': {
        get: {
          summary: 'One task with its event timeline and children',
          parameters: [
            { name: 'engine', in: 'path', required: true, schema: { type: 'string', enum: ENGINES } },
            { name: 'taskId', in: 'path', required: true, schema: { type: 'string' } },
            projectParam,
          ],
          responses: { '200': json(ref('TaskDetail')), ...errors },
        },
      },
      '/api/workers': { get: { summary: 'Workers seen, with liveness', parameters: [projectParam, q('engine', 'One engine.')], responses: { '200': json({ type: 'object', properties: { workers: { type: 'array', items: ref('Worker') } } }), ...errors } } },
      '/api/queues': { get: { summary: 'Queues seen, with the latest depth sample', parameters: [projectParam, q('engine', 'One engine.')], responses: { '200': json({ type: 'object', properties: { queues: { type: 'array', items: ref('Queue') } } }), ...errors } } },
      ...identityPaths,
    },
    components: {
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
        Health: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, storage: { type: 'string', enum: ['postgres', 'pglite'] }, engines: { type: 'array', items: { type: 'object', properties: { engine: { type: 'string' }, lastSeenAt: time } } } } },
        Task: { type: 'object', properties: taskProperties },
        TaskEvent: { type: 'object', properties: { id: { type: 'string' }, kind: { type: 'string' }, occurredAt: { type: 'string', format: 'date-time' }, worker: nullable('string'), fields: { type: 'object' } } },
        TaskDetail: {
          type: 'object',
          properties: {
            task: { allOf: [ref('Task')], properties: { traceback: nullable('string') } },
            events: { type: 'array', items: ref('TaskEvent') },
            children: { type: 'array', items: { type: 'object', properties: { engine: { type: 'string' }, taskId: { type: 'string' }, name: nullable('string'), state: { type: 'string' } } } },
          },
        },
        Worker: { type: 'object', properties: { engine: { type: 'string' }, hostname: { type: 'string' }, online: { type: 'boolean' }, firstSeenAt: time, lastSeenAt: time, offlineAt: time, heartbeatS: nullable('number'), active: nullable('integer'), processed: nullable('number'), loadavg: { type: ['array', 'null'] }, pid: nullable('integer'), software: nullable('string') } },
        ...identitySchemas,
        Queue: { type: 'object', properties: { engine: { type: 'string' }, name: { type: 'string' }, firstSeenAt: time, lastSeenAt: time, depth: nullable('number'), depthAt: time } },
      },
    },
  };
}
