// The OpenAPI 3.1 description of the API, served at /api/openapi.json. A test checks
// that every route in routes.ts is described here.
import { TASK_ACTIONS, WORKER_ACTIONS } from '../engines/capabilities.js';
import { ENGINES, TASK_KINDS } from '../ingest/envelope.js';
import { identityPaths, identitySchemas } from './openapiIdentity.js';
import { schedulePaths, scheduleSchemas } from './openapiSchedules.js';
import { ROUTES } from './routes.js';
import { TREND_GROUPS, TREND_METRICS, TREND_STATS } from './trends.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const time = nullable('string', { format: 'date-time' });
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = {
  '400': json(ref('Error'), 'Bad request (code BAD_REQUEST, BAD_CURSOR)'),
  '404': json(ref('Error'), 'Not found (code PROJECT_NOT_FOUND, TASK_NOT_FOUND)'),
};
const projectParam = { name: 'project', in: 'query', schema: { type: 'string' }, description: 'Project slug (default: the configured project).' };
const p = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'path', required: true, schema, description });
const idempotencyHeader = { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 8, maxLength: 128 }, description: 'A fresh random value per intended action; repeating it returns the first command instead of acting twice. Keys starting with purge:, bulk: or schedule-run: are z4j\'s own and refused.' };
const commandAnswer = {
  '200': json({ type: 'object', properties: { command: ref('Command') } }, 'This Idempotency-Key was seen before: the first command'),
  '202': json({ type: 'object', properties: { command: ref('Command') } }, 'Accepted: the command and its state so far'),
  '409': json(ref('Error'), 'The engine cannot do this (UNSUPPORTED)'),
  '422': json(ref('Error'), 'Idempotency-Key reused for another request (IDEMPOTENCY_KEY_REUSED)'),
  ...errors,
};
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
        "(Authorization: Bearer z4j_…, acting with its role capped by its maker's current role); each declares the project role it needs (x-z4j-role).",
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness (no credentials; no engines)', responses: { '200': json(ref('Health')) } } },
      '/readyz': { get: { summary: 'Readiness (no credentials): 503 when storage is unreachable; sources as counts only, never named', responses: { '200': json(ref('Readiness')), '503': json(ref('Readiness'), 'Storage unreachable') } } },
      '/metrics': { get: { summary: 'Prometheus metrics; sources are labelled by kind and position (celery-redis-1), never by host. With Z4J_METRICS_TOKEN set, only for Authorization: Bearer <that token>', responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, '401': json(ref('Error'), 'Z4J_METRICS_TOKEN is set and the request does not carry it (CREDENTIALS_MISSING, METRICS_TOKEN_WRONG)') } } },
      '/api/healthz': { get: { summary: 'Service version, storage and engines reporting (Viewer of the project)', parameters: [projectParam], responses: { '200': json(ref('Health')) } } },
      '/api/readyz': { get: { summary: 'Readiness with each source (name, broker without its password, connection, last error, last message) and the ingest counters (Grafana server admin)', responses: { '200': json(ref('ReadinessDetail')), '503': json(ref('ReadinessDetail'), 'Storage unreachable'), ...errors } } },
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
      '/api/workers': { get: { summary: 'Workers online, and those seen within offlineDays, with liveness (at most 2,000: online first, then the latest seen)', parameters: [projectParam, q('engine', 'One engine.'), q('offlineDays', 'Offline workers last seen within this many days are listed too (default 7; 0: online only).')], responses: { '200': json({ type: 'object', properties: { workers: { type: 'array', items: ref('Worker') }, truncated: { type: 'boolean', description: 'More workers matched than were listed.' } } }), ...errors } } },
      '/api/queues': { get: { summary: 'Queues seen, with the latest depth sample', parameters: [projectParam, q('engine', 'One engine.')], responses: { '200': json({ type: 'object', properties: { queues: { type: 'array', items: ref('Queue') } } }), ...errors } } },
      '/api/trends': {
        get: {
          summary: 'Tasks per time bucket for Grafana panels (the z4j trends data source): how many, or a statistic of their runtime or wait, by when each was first seen; optionally one series per state, engine, name, queue or worker',
          parameters: [
            projectParam,
            q('from', 'Start of the range (ISO 8601 or epoch ms); required.'),
            q('to', 'End of the range, after from; required.'),
            q('metric', 'count (default), runtime or wait (ms).', { type: 'string', enum: TREND_METRICS }),
            q('stat', 'For runtime and wait: avg, p50, p90, p95 (default), p99 or max.', { type: 'string', enum: TREND_STATS }),
            q('groupBy', 'One series per value of this column (a task without one is "").', { type: 'string', enum: TREND_GROUPS }),
            q('intervalMs', 'Bucket wished for, ≥ 1000 (default 60000); widened to fit the range in maxPoints.', { type: 'integer', minimum: 1000 }),
            q('maxPoints', 'Most buckets, 1–2000 (default 1000).', { type: 'integer', minimum: 1, maximum: 2000 }),
            q('limit', 'Most series, 1–50 (default 10): the groups with the most tasks in the range.', { type: 'integer', minimum: 1, maximum: 50 }),
            q('engine', 'Comma-separated engines.'),
            q('state', 'Comma-separated states.'),
            q('name', 'Exact task name.'),
            q('queue', 'Exact queue name.'),
            q('worker', 'Exact worker hostname.'),
            q('q', 'Free text over task id, name and arguments (case-insensitive substring).'),
          ],
          responses: {
            '200': json({
              type: 'object',
              required: ['intervalMs', 'metric', 'stat', 'series', 'truncated'],
              properties: {
                intervalMs: { type: 'integer', description: 'The bucket used; buckets start at multiples of it since the epoch.' },
                metric: { type: 'string', enum: TREND_METRICS },
                stat: { type: ['string', 'null'], enum: [...TREND_STATS, null] },
                series: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      labels: { type: 'object', additionalProperties: { type: 'string' } },
                      points: { type: 'array', description: '[bucket start (epoch ms), value]: every bucket of the range; a count is 0 where no task was seen, a duration null.', items: { type: 'array', items: { type: ['number', 'null'] } } },
                    },
                  },
                },
                truncated: { type: 'boolean', description: 'More groups had tasks than limit series show.' },
              },
            }),
            ...errors,
          },
        },
      },
      '/api/ingest/v1/batches': {
        post: {
          summary: 'Agent batch over HTTP (docs/agent-protocol.md): authenticated by its HMAC signature, not by the Grafana proxy',
          parameters: [
            { name: 'X-Z4J-Agent', in: 'header', required: true, schema: { type: 'string' }, description: 'Agent id.' },
            { name: 'X-Z4J-Signature', in: 'header', required: true, schema: { type: 'string' }, description: 'hex HMAC-SHA256 of the body with the agent secret.' },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: 'The signed batch: {v, agent, project, sentAt, nonce, seq, dropped, events}.' } } } },
          responses: {
            '202': json({ type: 'object', properties: { accepted: { type: 'integer' } } }, 'Committed'),
            '400': json(ref('Error'), 'BAD_BATCH, UNKNOWN_PROJECT (a Z4J_AGENT_KEYS agent naming a project that does not exist)'),
            '401': json(ref('Error'), 'UNKNOWN_AGENT, BAD_SIGNATURE, STALE_BATCH (sentAt more than 5 minutes off)'),
            '409': json(ref('Error'), 'REPLAY: this batch was already received'),
            '413': json(ref('Error'), 'Larger than 1 MiB'),
            '503': json(ref('Error'), 'BUSY: ingest is behind; send the batch again after Retry-After seconds'),
          },
        },
      },
      '/api/task-names': {
        get: { summary: 'Task names seen, for autocomplete (prefix match, in order)', parameters: [projectParam, q('prefix', 'Names starting with this.'), q('limit', '1–200, default 20.', { type: 'integer' })], responses: { '200': json({ type: 'object', properties: { names: { type: 'array', items: { type: 'string' } } } }), ...errors } },
      },
      '/api/tasks/{engine}/{taskId}/graph': {
        get: {
          summary: "The workflow a task belongs to: its first task (by parents up) and every task descending from it by parent or sharing its root, and its group (≤ 5,000), linked by parent (chain / group) and by retries from z4j",
          parameters: [projectParam, p('engine', 'Engine.', { type: 'string', enum: ENGINES }), p('taskId', 'Task id.')],
          responses: {
            '200': json({
              type: 'object',
              properties: {
                rootId: { type: 'string' }, truncated: { type: 'boolean' },
                nodes: { type: 'array', items: { type: 'object', properties: { engine: { type: 'string' }, taskId: { type: 'string' }, name: nullable('string'), state: { type: 'string' }, queue: nullable('string'), runtimeMs: nullable('number'), startedAt: time, finishedAt: time, parentId: nullable('string'), groupId: nullable('string') } } },
                edges: { type: 'array', items: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, kind: { type: 'string', enum: ['chain', 'group', 'retry'] } } } },
              },
            }),
            ...errors,
          },
        },
      },
      '/api/capabilities': {
        get: {
          summary: 'What each engine driver can do in the project (the capability matrix; empty, with brokersNotInProject, where Z4J_BROKER_PROJECTS leaves the project out)',
          parameters: [projectParam],
          responses: {
            '200': json({
              type: 'object',
              required: ['engines', 'sendable', 'capabilities'],
              properties: {
                engines: { type: 'array', items: { type: 'string', enum: ENGINES }, description: 'The engines this service has a driver for (a driver may exist unconfigured: Celery without brokers).' },
                sendable: { type: 'array', items: { type: 'string', enum: ENGINES }, description: 'The engines that can send a call as a new task in this project (schedules, run now): a configured driver that sends from the call alone, on brokers the project may act on.' },
                capabilities: { type: 'array', items: { type: 'object', properties: { capability: { type: 'string' }, label: { type: 'string' }, engines: { type: 'object', description: 'Per engine with a driver: how it is done ({ via, note? }), or null.' } } }, description: 'The capability matrix: each action and, per engine, how it is done.' },
                brokersNotInProject: { type: 'boolean', description: 'Present (true) when Z4J_BROKER_PROJECTS leaves this project out.' },
              },
            }),
          },
        },
      },
      '/api/tasks/{engine}/{taskId}/actions/{action}': {
        post: {
          summary: 'Retry, cancel or terminate a task (Operator)',
          parameters: [projectParam, p('engine', 'Engine.', { type: 'string', enum: ENGINES }), p('taskId', 'Task id.'), p('action', 'Action.', { type: 'string', enum: TASK_ACTIONS }), idempotencyHeader],
          responses: commandAnswer,
        },
      },
      '/api/workers/{engine}/{hostname}/actions/{action}': {
        post: {
          summary: 'Worker control (Operator): pool size, autoscale, rate and time limits, consumers',
          parameters: [projectParam, p('engine', 'Engine.'), p('hostname', 'Worker hostname.'), p('action', 'Action.', { type: 'string', enum: WORKER_ACTIONS.filter((a) => a !== 'shutdown') }), idempotencyHeader],
          requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { n: { type: 'integer' }, max: { type: 'integer' }, min: { type: 'integer' }, taskName: { type: 'string' }, rateLimit: { type: 'string' }, hard: { type: 'number' }, soft: { type: 'number' }, queue: { type: 'string' } } } } } },
          responses: commandAnswer,
        },
      },
      '/api/workers/{engine}/{hostname}/shutdown': {
        post: { summary: 'Shut a worker down (Admin)', parameters: [projectParam, p('engine', 'Engine.'), p('hostname', 'Worker hostname.'), idempotencyHeader], responses: commandAnswer },
      },
      '/api/queues/{engine}/{queue}/purge-preview': {
        post: {
          summary: 'How many messages a purge would remove, and the confirmation token it needs (Admin; token valid 5 minutes, for this queue, filter and user only). With a filter, only the waiting messages that match count (engines with queue.purge_filtered); the scan reads at most 100 000 messages per list, and `complete: false` then means depth is "at least"',
          parameters: [projectParam, p('engine', 'Engine.'), p('queue', 'Queue name.')],
          requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { filter: ref('PurgeFilter') } } } } },
          responses: { '200': json({ type: 'object', properties: { engine: { type: 'string' }, queue: { type: 'string' }, depth: nullable('integer'), filter: ref('PurgeFilter'), complete: { type: 'boolean', description: 'with a filter: false when the scan stopped at its bound (depth is a lower bound)' }, scanned: { type: 'integer' }, unreadable: { type: 'integer', description: 'with a filter: of the messages scanned, those whose task name z4j cannot read (e.g. another serializer); they never match, so the purge keeps them' }, token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } }), '409': json(ref('Error'), 'UNSUPPORTED'), ...errors },
        },
      },
      '/api/queues/{engine}/{queue}/purge': {
        post: {
          summary: 'Purge a queue with the token from its preview (Admin; each token works once). With the same filter as the preview, removes only the waiting messages that match (never another) and reports how many in the command outcome (`purged`). Where the broker names the tasks removed (Redis), each is recorded revoked ("purged from z4j by …") and `revoked` counts them; a RabbitMQ purge only counts: the tasks z4j had waiting in the queue, when no more than the broker removed, are marked revoked (`markedBy: "z4j"`, `inferred: true`; a worker\'s report of one wins), and its `message` says which it did',
          parameters: [projectParam, p('engine', 'Engine.'), p('queue', 'Queue name.')],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, filter: ref('PurgeFilter') } } } } },
          responses: { '202': json({ type: 'object', properties: { command: ref('Command') } }), '403': json(ref('Error'), 'Token for another queue, filter or user (TOKEN_MISMATCH)'), '409': json(ref('Error'), 'Token expired, invalid or already used (TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_USED)'), ...errors },
        },
      },
      '/api/queues/{engine}/{queue}/requeue-dead-letters': {
        post: { summary: "Put the queue's dead letters (failed jobs) back on it (Operator)", parameters: [projectParam, p('engine', 'Engine.'), p('queue', 'Queue name.'), idempotencyHeader], responses: commandAnswer },
      },
      '/api/bulk/preview': {
        post: {
          summary: 'What a bulk retry / cancel would act on: count (capped), per engine and whether it can, a sample (Operator)',
          parameters: [projectParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('BulkRequest') } } },
          responses: { '200': json({ type: 'object', properties: { count: { type: 'integer' }, overCap: { type: 'boolean' }, maxTasks: { type: 'integer' }, engines: { type: 'array', items: { type: 'object' } }, sample: { type: 'array', items: ref('Task') } } }), ...errors },
        },
      },
      '/api/bulk': {
        post: {
          summary: 'Start a bulk retry / cancel over the explorer filters; runs in chunks, resumable (Operator)',
          parameters: [projectParam, idempotencyHeader],
          requestBody: { required: true, content: { 'application/json': { schema: ref('BulkRequest') } } },
          responses: { '200': json({ type: 'object', properties: { job: ref('BulkJob') } }, 'Seen this Idempotency-Key: the first job'), '202': json({ type: 'object', properties: { job: ref('BulkJob') } }), '422': json(ref('Error'), 'NO_TASKS, TOO_MANY_TASKS, IDEMPOTENCY_KEY_REUSED'), ...errors },
        },
      },
      '/api/bulk/{id}': { get: { summary: 'A bulk job and its progress', parameters: [projectParam, p('id', 'Bulk job id.', { type: 'integer' })], responses: { '200': json({ type: 'object', properties: { job: ref('BulkJob') } }), ...errors } } },
      '/api/bulk/{id}/outcomes': {
        get: {
          summary: 'Per-task outcomes of a bulk job (its commands), paged by command id',
          parameters: [projectParam, p('id', 'Bulk job id.', { type: 'integer' }), q('after', 'Command id to continue after.', { type: 'integer' }), q('limit', '1–500, default 100.', { type: 'integer' })],
          responses: { '200': json({ type: 'object', properties: { commands: { type: 'array', items: ref('Command') }, nextAfter: nullable('integer') } }), ...errors },
        },
      },
      '/api/bulk/{id}/cancel': { post: { summary: 'Stop a running bulk job (Operator); commands already sent stay', parameters: [projectParam, p('id', 'Bulk job id.', { type: 'integer' })], responses: { '200': json({ type: 'object', properties: { job: ref('BulkJob') } }), ...errors } } },
      '/api/commands/{id}': { get: { summary: 'One command and its outcome', parameters: [projectParam, p('id', 'Command id.', { type: 'integer' })], responses: { '200': json({ type: 'object', properties: { command: ref('Command') } }), ...errors } } },
      ...schedulePaths,
      ...identityPaths,
    },
    components: {
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
        Health: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, storage: { type: 'string', enum: ['postgres', 'pglite'] }, engines: { type: 'array', items: { type: 'object', properties: { engine: { type: 'string' }, lastSeenAt: time } } } } },
        Readiness: {
          type: 'object', required: ['status', 'storage', 'sources'],
          properties: {
            status: { type: 'string', enum: ['ready', 'unavailable'] },
            storage: { type: 'object', properties: { kind: { type: 'string', enum: ['postgres', 'pglite'] }, reachable: { type: 'boolean' } } },
            sources: { type: 'object', properties: { total: { type: 'integer' }, connected: { type: 'integer' } } },
          },
        },
        ReadinessDetail: {
          type: 'object', required: ['status', 'storage', 'ingest', 'sources'],
          properties: {
            status: { type: 'string', enum: ['ready', 'unavailable'] },
            storage: { type: 'object', properties: { kind: { type: 'string', enum: ['postgres', 'pglite'] }, reachable: { type: 'boolean' } } },
            ingest: { type: 'object', properties: { queued: { type: 'integer' }, persisted: { type: 'integer' }, duplicates: { type: 'integer' }, invalid: { type: 'integer' }, dropped: { type: 'integer' }, batches: { type: 'integer' } } },
            sources: { type: 'array', items: { type: 'object', properties: { name: { type: 'string', description: 'Kind and position, as metrics label it: celery-redis-1' }, broker: { type: 'string', description: "The broker's URL without user and password" }, connected: { type: 'boolean' }, lastError: nullable('string'), lastMessageAt: nullable('integer') } } },
          },
        },
        Task: { type: 'object', properties: taskProperties },
        TaskEvent: { type: 'object', properties: { id: { type: 'string' }, kind: { type: 'string' }, occurredAt: { type: 'string', format: 'date-time' }, worker: nullable('string'), fields: { type: 'object' } } },
        TaskDetail: {
          type: 'object',
          properties: {
            task: { allOf: [ref('Task')], properties: { traceback: nullable('string'), retryOf: { ...nullable('string'), description: 'The task this one is a retry of (retried from z4j).' }, retriedAs: { type: 'array', items: { type: 'string' }, description: 'Retries of this task sent from z4j.' }, hasPayload: { type: 'boolean', description: 'z4j holds the sealed call (from the agent) a retry re-sends.' }, workerGone: { ...nullable('object'), description: 'For a received or started task: its worker, when it is gone (offline, or silent for three heartbeat periods and at least a minute) while the task is in its hands; null otherwise. A started task lost this way can be retried.', properties: { hostname: { type: 'string' }, lastSeenAt: { type: 'string', format: 'date-time' }, offlineAt: time } } } },
            events: { type: 'array', items: ref('TaskEvent') },
            children: { type: 'array', items: { type: 'object', properties: { engine: { type: 'string' }, taskId: { type: 'string' }, name: nullable('string'), state: { type: 'string' } } } },
          },
        },
        Worker: { type: 'object', properties: { engine: { type: 'string' }, hostname: { type: 'string' }, online: { type: 'boolean' }, firstSeenAt: time, lastSeenAt: time, offlineAt: time, heartbeatS: nullable('number'), active: { ...nullable('integer'), description: 'Tasks in flight at its last heartbeat; null while it is offline.' }, processed: nullable('number'), loadavg: { type: ['array', 'null'] }, pid: nullable('integer'), software: nullable('string'), concurrency: nullable('integer'), dropped: { ...nullable('number'), description: 'Events the agent dropped (its buffer was full); agents only.' }, payloadsDropped: { ...nullable('number'), description: 'Tasks the agent sent without their retry payload (too big, or holding a value JSON cannot carry exactly; each event says why in payloadOmitted): z4j cannot retry them; agents only.' }, failed24h: { type: 'integer', description: 'Tasks that failed on this worker in the last 24 hours.' } } },
        PurgeFilter: { type: 'object', required: ['name'], additionalProperties: false, description: 'Only waiting messages of this task name (Celery task, RQ function, Dramatiq actor, Huey / taskiq task name).', properties: { name: { type: 'string' } } },
        BulkRequest: { type: 'object', required: ['action'], properties: { action: { type: 'string', enum: ['retry', 'cancel'] }, filters: { type: 'object', description: 'The explorer filters as query strings: engine, state, name, queue, worker, from, to, q.', additionalProperties: { type: 'string' } } } },
        BulkJob: {
          type: 'object',
          properties: {
            id: { type: 'integer' }, action: { type: 'string' }, filters: { type: 'object' }, state: { type: 'string', enum: ['running', 'succeeded', 'cancelled', 'failed'] }, total: { type: 'integer' },
            message: nullable('string'), requestedBy: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' },
            progress: { type: 'object', properties: { done: { type: 'integer' }, succeeded: { type: 'integer' }, failed: { type: 'integer' }, pending: { type: 'integer' }, skipped: { type: 'integer' } } },
          },
        },
        Command: {
          type: 'object',
          properties: {
            id: { type: 'integer' }, kind: { type: 'string' }, engine: { type: 'string' }, target: { type: 'string' }, args: { type: 'object' },
            state: { type: 'string', enum: ['pending', 'dispatched', 'succeeded', 'failed', 'timed_out'] }, outcome: { type: ['object', 'null'] },
            requestedBy: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' },
          },
        },
        ...scheduleSchemas,
        ...identitySchemas,
        Queue: { type: 'object', properties: { engine: { type: 'string' }, name: { type: 'string' }, firstSeenAt: time, lastSeenAt: time, depth: nullable('number'), depthAt: time } },
      },
    },
  };
}
