// Action endpoints: task actions, worker control, queue purge (preview → token → purge), the
// commands they create, and the capability matrix. Thin: ActionService does the work.
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ActionRefused } from '../../actions/actionService.js';
import { BULK_ACTIONS } from '../../actions/bulk.js';
import { auditTarget, getCommand as loadCommand, IdempotencyConflict, type Command } from '../../actions/commands.js';
import { issuePurgeToken, PurgeTokenError, verifyPurgeToken } from '../../actions/purgeToken.js';
import { TASK_ACTIONS, WORKER_ACTIONS } from '../../engines/capabilities.js';
import { capabilityMatrix } from '../../engines/driver.js';
import { ENGINES } from '../../ingest/envelope.js';
import type { ApiContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { actorName, actorOf, authOf, projectOfAuth } from '../../auth/caller.js';
import { auditRequest } from '../../audit/record.js';
import { scrub } from '../../redact/redact.js';
import type { Handler } from '../routes.js';

const PURGE_TOKEN_TTL_S = 300;

const engine = z.enum(ENGINES);
const name = z.string().min(1).max(255);
const idempotencyKey = z.string().min(8, 'at least 8 characters').max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII');

/** Who is acting, as the identity layer resolved it: a Grafana login or an API token's name. */
function callerName(res: Response): string {
  return actorName(authOf(res).caller);
}

/** A stable identity to bind confirmation tokens to (names can be reused, ids cannot). */
function callerId(res: Response): string {
  const actor = actorOf(authOf(res).caller);
  return `${actor.kind}:${actor.id ?? ''}`;
}

/** The audit row of an action: what was asked, on what, and the command's state when we answered. */
async function auditCommand(ctx: ApiContext, req: Request, res: Response, command: Command, created: boolean): Promise<void> {
  await auditRequest(ctx, req, res, {
    action: command.kind,
    target: auditTarget(command),
    outcome: command.state === 'failed' || command.state === 'timed_out' ? 'error' : 'ok',
    detail: {
      commandId: command.id, state: command.state, repeated: !created,
      ...(command.outcome?.code ? { code: command.outcome.code } : {}),
      // A retry of a started task z4j allowed because its worker is gone: the record says which.
      ...(typeof command.outcome?.lostWith === 'string' ? { lostWith: command.outcome.lostWith } : {}),
    },
  });
}

/**
 * Prefixes of the keys z4j gives the commands it makes itself (a purge's `purge:<token id>`, a
 * bulk job's `bulk:<job>:<engine>:<task>`, a schedule run's `schedule-run:<run id>`). They share
 * the project's key space with the callers' keys, and job and run ids are a guessable sequence:
 * a caller's key there would take a command's key before z4j makes it, and that bulk chunk or
 * schedule run would then fail on the "reused" key.
 */
const RESERVED_KEY = /^(purge|bulk|schedule-run):/;

export function keyOf(req: Request): string {
  const raw = req.get('idempotency-key');
  if (raw === undefined) throw new ApiError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'the Idempotency-Key header is required for actions (a fresh random value per intended action)');
  const parsed = idempotencyKey.safeParse(raw);
  if (!parsed.success) throw new ApiError(400, 'BAD_REQUEST', `Idempotency-Key: ${parsed.error.issues[0]!.message}`);
  if (RESERVED_KEY.test(parsed.data)) throw new ApiError(400, 'BAD_REQUEST', 'Idempotency-Key: purge:, bulk: and schedule-run: are z4j\'s own; send a fresh random value');
  return parsed.data;
}

/** Runs an action, audits it, and answers: 202 for a new command, 200 with the first one for a repeated key. */
async function answer(ctx: ApiContext, req: Request, res: Response, run: () => Promise<{ command: Command; created: boolean }>): Promise<void> {
  try {
    const { command, created } = await run();
    await auditCommand(ctx, req, res, command, created);
    res.status(created ? 202 : 200).json({ command });
  } catch (err) {
    if (err instanceof ActionRefused) throw new ApiError(err.status, err.code, err.message);
    if (err instanceof IdempotencyConflict) throw new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', err.message);
    throw err;
  }
}

const taskParams = z.object({ engine, taskId: name, action: z.enum(TASK_ACTIONS) });

export const taskAction = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine: e, taskId, action } = taskParams.parse(req.params);
  const key = keyOf(req);
  const project = projectOfAuth(res);
  await answer(ctx, req, res, () => ctx.actions.taskAction(e, taskId, action, { projectId: project.id, projectSlug: project.slug, idempotencyKey: key, requestedBy: callerName(res) }));
};

const workerParams = z.object({ engine, hostname: name, action: z.enum(WORKER_ACTIONS).exclude(['shutdown']) });
const workerArgs = z.strictObject({
  n: z.number().int().min(1).max(1000).optional(),
  max: z.number().int().min(1).max(10000).optional(),
  min: z.number().int().min(0).max(10000).optional(),
  taskName: name.optional(),
  rateLimit: z.string().regex(/^\d+(\.\d+)?(\/[smh])?$/, 'like 10/m, 5/s or 100').optional(),
  hard: z.number().min(0).max(86400 * 7).nullable().optional(),
  soft: z.number().min(0).max(86400 * 7).nullable().optional(),
  queue: name.optional(),
});
const REQUIRED_ARGS: Record<string, (keyof z.infer<typeof workerArgs>)[]> = {
  autoscale: ['max', 'min'],
  rate_limit: ['taskName', 'rateLimit'],
  time_limit: ['taskName'],
  add_consumer: ['queue'],
  cancel_consumer: ['queue'],
};

async function runWorkerAction(ctx: ApiContext, req: Request, res: Response, e: (typeof ENGINES)[number], hostname: string, action: (typeof WORKER_ACTIONS)[number]): Promise<void> {
  const args = workerArgs.parse(req.body ?? {});
  const missing = (REQUIRED_ARGS[action] ?? []).filter((k) => args[k] === undefined);
  if (missing.length) throw new ApiError(400, 'BAD_REQUEST', `${action} needs ${missing.join(', ')}`);
  const key = keyOf(req);
  const project = projectOfAuth(res);
  await answer(ctx, req, res, () => ctx.actions.workerAction(e, hostname, action, args, { projectId: project.id, projectSlug: project.slug, idempotencyKey: key, requestedBy: callerName(res) }));
}

export const workerAction = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine: e, hostname, action } = workerParams.parse(req.params);
  await runWorkerAction(ctx, req, res, e, hostname, action);
};

/** Shutdown has a route of its own because it needs a higher role than the other worker actions. */
export const workerShutdown = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine: e, hostname } = z.object({ engine, hostname: name }).parse(req.params);
  await runWorkerAction(ctx, req, res, e, hostname, 'shutdown');
};

const queueParams = z.object({ engine, queue: name });
/** A purge of only the matching messages: by task name (the one filter every readable engine has). */
const purgeFilter = z.strictObject({ name }).optional();

export const purgePreview = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine: e, queue } = queueParams.parse(req.params);
  const { filter } = z.strictObject({ filter: purgeFilter }).parse(req.body ?? {});
  const project = projectOfAuth(res);
  let driver;
  try {
    driver = ctx.actions.driver(e, filter ? 'queue.purge_filtered' : 'queue.purge', project.slug);
    await ctx.actions.requireInProject(project.id, e, 'queue', queue);
  } catch (err) {
    if (err instanceof ActionRefused) throw new ApiError(err.status, err.code, err.message);
    throw err;
  }
  // With a filter, depth counts the matching messages; `complete` false means the scan stopped at its bound ("at least").
  let depth: number | null;
  let complete = true;
  let scanned: number | undefined;
  let unreadable: number | undefined;
  if (filter) {
    const count = await driver.countMatching!(queue, filter).catch((err) => {
      throw new ApiError(409, 'UNSUPPORTED', scrub(String((err as Error)?.message ?? err)) as string);
    });
    ({ matched: depth, complete, scanned, unreadable } = count);
  } else {
    depth = driver.queueDepth ? await driver.queueDepth(queue).catch(() => null) : null;
  }
  const { token, claims } = issuePurgeToken(ctx.sealer, { projectId: project.id, engine: e, queue, filter: filter ?? {}, user: callerId(res), depth }, PURGE_TOKEN_TTL_S);
  await auditRequest(ctx, req, res, { action: 'queue.purge_preview', target: `${e}/${queue}`, detail: { depth, ...(filter ? { filter, complete, scanned, unreadable } : {}) } });
  res.json({ engine: e, queue, depth, ...(filter ? { filter, complete, scanned, unreadable } : {}), token, expiresAt: new Date(claims.exp).toISOString() });
};

export const purgeQueue = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine: e, queue } = queueParams.parse(req.params);
  const { token, filter } = z.strictObject({ token: z.string().min(16).max(4096), filter: purgeFilter }).parse(req.body ?? {});
  const project = projectOfAuth(res);
  let claims;
  try {
    claims = verifyPurgeToken(ctx.sealer, token, { projectId: project.id, engine: e, queue, user: callerId(res), filter: filter ?? {} });
  } catch (err) {
    if (err instanceof PurgeTokenError) throw new ApiError(err.code === 'TOKEN_MISMATCH' ? 403 : 409, err.code, err.message);
    throw err;
  }
  const { command, created } = await ctx.actions.purgeQueue(e, queue, { projectId: project.id, projectSlug: project.slug, idempotencyKey: `purge:${claims.jti}`, requestedBy: callerName(res) }, filter ?? null).catch((err) => {
    if (err instanceof ActionRefused) throw new ApiError(err.status, err.code, err.message);
    throw err;
  });
  // One token, one purge: a second use is refused rather than answered with the first result.
  if (!created) throw new ApiError(409, 'TOKEN_USED', `this confirmation token was already used (command ${command.id}): preview the purge again`);
  await auditCommand(ctx, req, res, command, created);
  res.status(202).json({ command });
};

export const requeueDeadLetters = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine: e, queue } = queueParams.parse(req.params);
  const key = keyOf(req);
  const project = projectOfAuth(res);
  await answer(ctx, req, res, () => ctx.actions.requeueDeadLetters(e, queue, { projectId: project.id, projectSlug: project.slug, idempotencyKey: key, requestedBy: callerName(res) }));
};

export const getCommand = (ctx: ApiContext): Handler => async (req, res) => {
  const { id } = z.object({ id: z.coerce.number().int().min(1).max(2 ** 53) }).parse(req.params);
  const project = projectOfAuth(res);
  const command = await loadCommand(ctx.db, project.id, id);
  if (!command) throw notFound(`command ${id}`, 'COMMAND_NOT_FOUND');
  res.json({ command });
};

/** What the caller's project can do: nothing, where the configured brokers are not its own (Z4J_BROKER_PROJECTS). */
/**
 * The engines with a driver that can act (not `notConfigured`: Celery's always exists, and acts
 * on nothing without brokers), their capability matrix, and `sendable`: the engines a schedule
 * (or any call sent as a new task) can use in this project, those ActionService.sendRefusal
 * accepts (a driver may declare cannotSendCall).
 */
export const capabilities = (ctx: ApiContext): Handler => async (_req, res) => {
  const slug = projectOfAuth(res).slug;
  const acts = ctx.actions.actsOnBrokers(slug);
  const drivers = acts ? [...ctx.actions.drivers.values()].filter((d) => !d.notConfigured) : [];
  const sendable = drivers.filter((d) => ctx.actions.sendRefusal(d.engine, slug) === null).map((d) => d.engine);
  res.json({ engines: drivers.map((d) => d.engine), sendable, capabilities: capabilityMatrix(drivers), ...(acts ? {} : { brokersNotInProject: true }) });
};

const bulkBody = z.strictObject({ action: z.enum(BULK_ACTIONS), filters: z.record(z.string(), z.string()).default({}) });

/** Bulk errors and filter errors as API errors. */
async function bulkCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ActionRefused) throw new ApiError(err.status, err.code, err.message);
    throw err;
  }
}

export const bulkPreview = (ctx: ApiContext): Handler => async (req, res) => {
  const { action, filters } = bulkBody.parse(req.body ?? {});
  const project = projectOfAuth(res);
  const preview = await bulkCall(() => ctx.bulk.preview(project.id, action, filters));
  const acts = ctx.actions.actsOnBrokers(project.slug);
  res.json({ ...preview, engines: preview.engines.map((e) => ({ ...e, supported: e.supported && acts })) });
};

export const bulkStart = (ctx: ApiContext): Handler => async (req, res) => {
  const { action, filters } = bulkBody.parse(req.body ?? {});
  const key = keyOf(req);
  const project = projectOfAuth(res);
  const { job, created } = await bulkCall(async () => {
    ctx.actions.requireBrokers(project.slug);
    return ctx.bulk.start(project.id, action, filters, callerName(res), key);
  });
  await auditRequest(ctx, req, res, { action: `bulk.${action}`, target: `bulk/${job.id}`, detail: { filters, total: job.total, repeated: !created } });
  res.status(created ? 202 : 200).json({ job });
};

const bulkId = z.object({ id: z.coerce.number().int().min(1).max(2 ** 53) });

export const bulkGet = (ctx: ApiContext): Handler => async (req, res) => {
  const { id } = bulkId.parse(req.params);
  const project = projectOfAuth(res);
  const job = await ctx.bulk.get(project.id, id);
  if (!job) throw notFound(`bulk job ${id}`, 'BULK_NOT_FOUND');
  res.json({ job });
};

export const bulkOutcomes = (ctx: ApiContext): Handler => async (req, res) => {
  const { id } = bulkId.parse(req.params);
  const { after, limit } = z.object({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(500).default(100) }).parse(req.query);
  const project = projectOfAuth(res);
  if (!(await ctx.bulk.get(project.id, id))) throw notFound(`bulk job ${id}`, 'BULK_NOT_FOUND');
  const commands = await ctx.bulk.outcomes(project.id, id, after, limit);
  res.json({ commands, nextAfter: commands.length === limit ? commands[commands.length - 1]!.id : null });
};

export const bulkCancel = (ctx: ApiContext): Handler => async (req, res) => {
  const { id } = bulkId.parse(req.params);
  const project = projectOfAuth(res);
  const job = await ctx.bulk.cancel(project.id, id);
  if (!job) throw notFound(`bulk job ${id}`, 'BULK_NOT_FOUND');
  await auditRequest(ctx, req, res, { action: 'bulk.cancel', target: `bulk/${id}` });
  res.json({ job });
};
