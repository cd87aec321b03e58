// OpenAPI description of the schedule routes (merged into openapi.ts; docs/schedules.md).
import { ENGINES } from '../ingest/envelope.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const time = { type: 'string', format: 'date-time' };
const err = (description: string) => json(ref('Error'), description);
const projectQ = { name: 'project', in: 'query', schema: { type: 'string' }, description: 'Project slug (default: the configured project).' };
const idP = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: "Schedule id ('sch_…')." };
const pageQ = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 }, description: 'Page size, 1–500 (default 50).' },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page.' },
];
const auth = {
  '401': err('No or wrong credentials; audited'),
  '403': err('Role too low in the project (ROLE_TOO_LOW); audited'),
};
const invalid = err('BAD_REQUEST (names the field), INVALID_CRON, UNKNOWN_TIMEZONE, ENGINE_NOT_CONFIGURED, ENGINE_CANNOT_SEND, UNKNOWN_TASK (RQ: a function this project has not seen on RQ), BAD_CURSOR, IDEMPOTENCY_KEY_REQUIRED (run now); a refused write is audited');
const notFound = err('SCHEDULE_NOT_FOUND (or PROJECT_NOT_FOUND)');
const one = (status: string, description = 'OK') => ({ [status]: json({ type: 'object', required: ['schedule'], properties: { schedule: ref('Schedule') } }, description) });

/** The fields of a schedule as written: every one in a create, any but the engine in a change. */
const writable = {
  name: { type: 'string', minLength: 1, maxLength: 200, description: 'Unique in the project.' },
  taskName: { type: 'string', minLength: 1, maxLength: 255, description: "The engine's task name, e.g. billing.tasks.close_day." },
  args: { type: 'array', description: 'Positional arguments, exactly as sent (args + kwargs at most 64 KiB of JSON); stored sealed, shown redacted. Replaced whole.' },
  kwargs: { type: 'object', description: 'Keyword arguments, exactly as sent; stored sealed, shown redacted. Replaced whole.' },
  queue: { ...nullable('string'), description: "null: the engine's default queue." },
  cron: { type: 'string', description: '5 fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; no seconds field.' },
  timezone: { type: 'string', description: 'IANA time zone the cron is read in (default UTC); DST-aware.' },
  enabled: { type: 'boolean', description: 'Default true.' },
};
const engine = { type: 'string', enum: ENGINES };

export const schedulePaths = {
  '/api/schedules': {
    get: {
      summary: 'Schedules, newest first, with keyset pagination (Viewer)',
      parameters: [projectQ, ...pageQ],
      responses: { '200': json({ type: 'object', required: ['schedules', 'nextCursor'], properties: { schedules: { type: 'array', items: ref('Schedule') }, nextCursor: nullable('string') } }), '400': invalid, ...auth, '404': notFound },
    },
    post: {
      summary: 'Create a schedule (Admin; audited schedule.create)',
      parameters: [projectQ],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required: ['name', 'engine', 'taskName', 'cron'], properties: { ...writable, engine } } } } },
      responses: { ...one('201', 'Created'), '400': invalid, ...auth, '404': notFound, '409': err('SCHEDULE_NAME_TAKEN') },
    },
  },
  '/api/schedules/preview': {
    post: {
      summary: "A cron's next times in a time zone, from now (Viewer; nothing stored)",
      parameters: [projectQ],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required: ['cron'], properties: { cron: writable.cron, timezone: writable.timezone, count: { type: 'integer', minimum: 1, maximum: 20, description: 'Default 5.' } } } } } },
      responses: { '200': json({ type: 'object', required: ['next'], properties: { next: { type: 'array', items: time } } }), '400': invalid, ...auth },
    },
  },
  '/api/schedules/{id}': {
    get: { summary: 'One schedule with its last run (Viewer)', parameters: [idP, projectQ], responses: { ...one('200'), '400': invalid, ...auth, '404': notFound } },
    patch: {
      summary: 'Change a schedule (Admin; audited schedule.update): any fields but the engine. A new cron, time zone or enabled recomputes nextRunAt from now',
      parameters: [idP, projectQ],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: writable } } } },
      responses: { ...one('200'), '400': invalid, ...auth, '404': notFound, '409': err('SCHEDULE_NAME_TAKEN') },
    },
    delete: { summary: 'Delete a schedule and its runs (Admin; audited schedule.delete)', parameters: [idP, projectQ], responses: { '204': { description: 'Deleted' }, '400': invalid, ...auth, '404': notFound } },
  },
  '/api/schedules/{id}/enable': { post: { summary: 'Enable: next due time from now (Operator; audited schedule.enable)', parameters: [idP, projectQ], responses: { ...one('200'), '400': invalid, ...auth, '404': notFound } } },
  '/api/schedules/{id}/disable': { post: { summary: 'Disable: never due until enabled (Operator; audited schedule.disable)', parameters: [idP, projectQ], responses: { ...one('200'), '400': invalid, ...auth, '404': notFound } } },
  '/api/schedules/{id}/run': {
    post: {
      summary: 'Run now: records a manual run and sends the call at once, enabled or not (Operator; audited schedule.run). The run says where the send got to',
      parameters: [idP, projectQ, { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 8, maxLength: 128 }, description: 'A fresh random value per intended run; repeating it answers with the first run instead of sending again.' }],
      responses: {
        '202': json({ type: 'object', required: ['run'], properties: { run: ref('ScheduleRun') } }, 'Accepted'),
        '200': json({ type: 'object', required: ['run'], properties: { run: ref('ScheduleRun') } }, 'This Idempotency-Key was seen before: the first run, nothing sent'),
        '400': invalid, ...auth, '404': notFound,
        '422': err('IDEMPOTENCY_KEY_REUSED: the key was used for another schedule'),
      },
    },
  },
  '/api/schedules/{id}/runs': {
    get: {
      summary: "A schedule's runs, newest first by firedAt, with keyset pagination (Viewer)",
      parameters: [idP, projectQ, ...pageQ],
      responses: { '200': json({ type: 'object', required: ['runs', 'nextCursor'], properties: { runs: { type: 'array', items: ref('ScheduleRun') }, nextCursor: nullable('string') } }), '400': invalid, ...auth, '404': notFound },
    },
  },
};

export const scheduleSchemas = {
  Schedule: {
    type: 'object',
    required: ['id', 'name', 'engine', 'taskName', 'args', 'kwargs', 'queue', 'cron', 'timezone', 'enabled', 'nextRunAt', 'lastRun', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy'],
    properties: {
      id: { type: 'string' }, name: { type: 'string' }, engine, taskName: { type: 'string' },
      args: { type: 'array', description: 'Display copy, redacted (secret-shaped values masked). The exact call is sealed and never returned.' },
      kwargs: { type: 'object', description: 'Display copy, redacted.' },
      queue: nullable('string'), cron: { type: 'string' }, timezone: { type: 'string' }, enabled: { type: 'boolean' },
      nextRunAt: { ...nullable('string', { format: 'date-time' }), description: 'null when disabled.' },
      lastRun: { oneOf: [ref('ScheduleRun'), { type: 'null' }] },
      createdAt: time, createdBy: { type: 'string' }, updatedAt: time, updatedBy: { type: 'string' },
    },
  },
  ScheduleRun: {
    type: 'object',
    required: ['id', 'scheduleId', 'trigger', 'dueAt', 'firedAt', 'requestedBy', 'state', 'taskId', 'commandId', 'missed', 'error'],
    properties: {
      id: { type: 'string', description: 'bigint as text' }, scheduleId: { type: 'string' },
      trigger: { type: 'string', enum: ['cron', 'manual'] },
      dueAt: { ...nullable('string', { format: 'date-time' }), description: 'The cron time it was for; null for a manual run.' },
      firedAt: time,
      requestedBy: { ...nullable('string'), description: 'Who pressed run now, named as the audit log names its actor (a login, an API token\'s name); null for cron.' },
      state: {
        type: 'string', enum: ['sending', 'sent', 'dispatched', 'failed'],
        description: 'sending: recorded, not yet handed to the broker (left so if the service died there: at most once); sent: the broker holds the task; dispatched: an agent took the command, outcome pending; failed: see error.',
      },
      taskId: { ...nullable('string'), description: 'The new task (/api/tasks/{engine}/{taskId}).' },
      commandId: { ...nullable('string'), description: 'Its command (/api/commands/{id}).' },
      missed: { type: 'integer', description: 'Cron times skipped because the service was down or behind (fires once, counts the rest, counted up to 100: 100 means at least 100).' },
      error: nullable('string'),
    },
  },
};
