// The agent command channel, service side (docs/agent-protocol.md, "Commands"): finds the
// worker whose agent can run a command, signs the command with that agent's live secrets, has
// the engine's driver deliver it on the worker's own broker, and settles the command when the
// agent's report of the outcome comes back in one of its signed batches.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { isDataException, type Db, type Queryable } from '../db/db.js';
import type { AgentChannel, AgentTarget, CommandChannel, EngineDriver } from '../engines/driver.js';
import type { AgentCredentials, AgentKeyStore } from '../ingest/agentKeys.js';
import { ENGINES } from '../ingest/envelope.js';
import { hasUnstorableText, scrub } from '../redact/redact.js';
import { auditSettled, dropReasons, SETTLED, type Command, type Settled, type SettledAudit } from './commands.js';

/** Commands are signed with a key derived from the agent's secret, so no batch signature can pass for a command's. */
export const COMMAND_KEY_LABEL = 'z4j-commands-v1';

export const commandKey = (project: string, worker: string) => `z4j:commands:${project}:${worker}`;

/** The worker's own RabbitMQ queue (declared by its agent); a name past AMQP's 255 bytes becomes a digest, as the agent does. */
export function commandQueue(project: string, worker: string): string {
  const name = `z4j.commands.${project}.${worker}`;
  return Buffer.byteLength(name, 'utf8') <= 255 ? name : `z4j.commands.${createHash('sha256').update(`${project}.${worker}`, 'utf8').digest('hex')}`;
}

/** One signature per live secret of the agent (more than one during a rotation's overlap). */
export function signCommand(text: string, secrets: readonly Buffer[]): string[] {
  return secrets.map((secret) => {
    const key = createHmac('sha256', secret).update(COMMAND_KEY_LABEL).digest();
    return createHmac('sha256', key).update(text, 'utf8').digest('hex');
  });
}

/** A command as the agent reads it. `id` is what the agent dedupes on; `command` is our commands row. */
export interface WireCommand {
  v: 1;
  id: string;
  command: number;
  project: string;
  agent: string;
  worker: string;
  engine: string;
  action: string;
  args: Record<string, unknown>;
  issuedAt: number;
  expiresAt: number;
}

export class NoAgentRoute extends Error {}

/** How long after its last sign of life a worker still counts as there (its agent heartbeats every 10 s by default). */
const ALIVE_SQL = `w.online AND w.last_seen_at > now() - make_interval(secs => greatest(3 * coalesce(w.heartbeat_s, 10), 30))`;

export class AgentCommands {
  constructor(
    private readonly db: Db,
    private readonly keys: AgentKeyStore,
  ) {}

  /** The channel one command's driver call uses; the command expires (is never run) after `expiresAt`. */
  channel(driver: EngineDriver, project: { id: number; slug: string }, command: Command, expiresAt: number): AgentChannel {
    // Each agent's secrets read once per command, fresh (see sign), however many of its workers it reaches.
    const read = new Map<string, Promise<AgentCredentials | null>>();
    const secretsOf = (agentId: string) => read.get(agentId) ?? read.set(agentId, this.keys.lookup(agentId, { fresh: true })).get(agentId)!;
    const issue = (action: string, args: Record<string, unknown>) => ({ driver, project, command, expiresAt, action, args, secretsOf });
    return {
      send: (action, args, to) => this.send(issue(action, args), to),
      sendToAll: (action, args, queue) => this.sendToAll(issue(action, args), queue),
    };
  }

  private async send(c: Issue, to: AgentTarget): Promise<{ worker: string }> {
    const worker = 'worker' in to ? to.worker : null;
    const [route] = await this.routes(c, worker, 'queue' in to ? to.queue : null, 1);
    if (!route) {
      throw new NoAgentRoute(worker
        ? `worker ${worker} is offline, or has no z4j agent taking commands${onChannel(c.driver)}`
        : `no live ${c.driver.engine} worker with a z4j agent taking commands${onChannel(c.driver)} serves ${'queue' in to && to.queue ? `queue ${to.queue}` : 'this task'}`);
    }
    if (!route.actions.includes(c.action)) throw new NoAgentRoute(`the z4j agent in ${route.worker} cannot ${c.action} ${c.driver.engine} tasks`);
    const signed = await this.sign(c, route);
    // Recorded before delivery: the agent's report may come back before delivery returns.
    await this.recordRoute(c.command.id, { ref: signed.ref, agent: route.agentId, worker: route.worker });
    await this.deliver(c, signed);
    return { worker: route.worker };
  }

  /** Every live worker serving the queue whose agent can run it; their replies settle the command (settleFanOutReply). */
  private async sendToAll(c: Issue, queue: string | null): Promise<{ workers: string[]; notReached: string[] }> {
    const live = await this.routes(c, null, queue, 1000);
    const able = live.filter((r) => r.actions.includes(c.action));
    const notReached = live.filter((r) => !r.actions.includes(c.action)).map((r) => r.worker);
    if (!able.length) {
      throw new NoAgentRoute(live.length
        ? `the z4j agents of the live ${c.driver.engine} workers serving ${queue ? `queue ${queue}` : 'this task'} cannot ${c.action} tasks`
        : `no live ${c.driver.engine} worker with a z4j agent taking commands${onChannel(c.driver)} serves ${queue ? `queue ${queue}` : 'this task'}`);
    }
    const signed: Awaited<ReturnType<AgentCommands['sign']>>[] = [];
    for (const r of able) {
      try {
        signed.push(await this.sign(c, r));
      } catch (err) {
        if (!(err instanceof NoAgentRoute) || (r === able.at(-1) && !signed.length)) throw err;
        notReached.push(r.worker);
      }
    }
    const reached = (sent: typeof signed, missed: string[]) => ({ workers: sent.map((s) => s.route.worker), ...(missed.length ? { notReached: missed } : {}) });
    await this.recordRoute(c.command.id, { refs: Object.fromEntries(signed.map((s) => [s.ref, s.route.agentId])), ...reached(signed, notReached) });
    const delivered = await Promise.allSettled(signed.map((s) => this.deliver(c, s)));
    const lost = signed.filter((_, i) => delivered[i]!.status === 'rejected');
    if (lost.length === signed.length) throw new NoAgentRoute(`the command could not be delivered to any worker: ${String((delivered[0] as PromiseRejectedResult).reason?.message ?? delivered[0])}`);
    const sent = signed.filter((s) => !lost.includes(s));
    const missed = [...notReached, ...lost.map((s) => s.route.worker)];
    if (lost.length) {
      // A worker whose queue is gone will never answer: it is not waited for.
      await this.db.query(
        `UPDATE commands SET outcome = jsonb_set(outcome, '{refs}', (outcome->'refs') - $2::text[]) || $3::jsonb WHERE id = $1`,
        [c.command.id, lost.map((s) => s.ref), JSON.stringify(reached(sent, missed))],
      );
    }
    return { workers: sent.map((s) => s.route.worker), notReached: missed };
  }

  private async sign(c: Issue, route: Route): Promise<{ ref: string; route: Route; element: string }> {
    // Fresh (at most a second old), not the cache's 5 s: signed only with secrets the agent may have dropped (a rotation on another
    // replica with no overlap), the command would be refused by it; and a revoked agent gets none.
    const creds = await c.secretsOf(route.agentId);
    if (!creds || creds.project !== c.project.slug) throw new NoAgentRoute(`the z4j agent of worker ${route.worker} is unknown or revoked`);
    const wire: WireCommand = {
      v: 1, id: randomUUID(), command: c.command.id, project: c.project.slug, agent: route.agentId, worker: route.worker, engine: c.driver.engine,
      action: c.action, args: c.args, issuedAt: Date.now(), expiresAt: c.expiresAt,
    };
    const text = JSON.stringify(wire);
    return { ref: wire.id, route, element: JSON.stringify({ command: text, sigs: signCommand(text, creds.secrets) }) };
  }

  private async recordRoute(commandId: number, route: Record<string, unknown>): Promise<void> {
    await this.db.query(
      `UPDATE commands SET state = 'dispatched', outcome = coalesce(outcome, '{}'::jsonb) || $2::jsonb, updated_at = now()
        WHERE id = $1 AND state IN ('pending', 'dispatched')`,
      [commandId, JSON.stringify({ via: 'agent', ...route })],
    );
  }

  private async deliver(c: Issue, signed: { route: Route; element: string }): Promise<void> {
    const ttlS = Math.max(5, Math.ceil((c.expiresAt - Date.now()) / 1000) + 5);
    await c.driver.deliverAgentCommand!(c.project.slug, signed.route.worker, signed.element, ttlS);
  }

  /** Live workers (the one named, or those serving the queue) with an agent taking commands, the ones that can run `action` and the most recently seen first. */
  private async routes(c: Issue, worker: string | null, queue: string | null, limit: number): Promise<Route[]> {
    if (!c.driver.deliverAgentCommand) throw new NoAgentRoute(`z4j cannot reach ${c.driver.engine} agents`);
    return (await this.db.query<Route>(
      `SELECT aw.worker, aw.agent_id AS "agentId", aw.actions
         FROM agent_workers aw JOIN workers w ON w.project_id = aw.project_id AND w.engine = aw.engine AND w.hostname = aw.worker
        WHERE aw.project_id = $1 AND aw.engine = $2 AND ${ALIVE_SQL}
          AND ($3::text IS NULL OR aw.worker = $3)
          AND ($4::text IS NULL OR aw.queues = '{}' OR $4 = ANY (aw.queues))
          AND (aw.channel IS NULL OR $7::text IS NULL OR aw.channel = $7)
        ORDER BY ($5 = ANY (aw.actions)) DESC, w.last_seen_at DESC
        LIMIT $6`,
      [c.project.id, c.driver.engine, worker, queue, c.action, limit, c.driver.commandChannel ?? null],
    )).rows;
  }
}

const CHANNEL_NAMES: Record<CommandChannel, string> = { redis: 'Redis', amqp: 'RabbitMQ' };
const onChannel = (driver: EngineDriver) => (driver.commandChannel ? ` on ${CHANNEL_NAMES[driver.commandChannel]}, the broker z4j reaches ${driver.engine} on` : '');

interface Issue {
  driver: EngineDriver; project: { id: number; slug: string }; command: Command; expiresAt: number; action: string; args: Record<string, unknown>;
  secretsOf: (agentId: string) => Promise<AgentCredentials | null>;
}
interface Route { worker: string; agentId: string; actions: string[] }

const MAX_DETAIL_CHARS = 4096;

/**
 * An agent never runs a command past its deadline, so a report that comes after the reconciler
 * timed the command out (a slow broker, a batch held in the agent's buffer) says what really
 * happened: it settles the command still, marked late, and is audited as a second row.
 */
const OPEN_OR_TIMED_OUT = `('pending', 'dispatched', 'timed_out')`;
/** An agent's report time as the API gives every time (ISO 8601), null when it is none. */
function isoTime(ms: unknown): string | null {
  const at = new Date(typeof ms === 'number' ? ms : Number.NaN);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

const markLate = (outcome: string) =>
  `CASE WHEN c.state = 'timed_out' THEN jsonb_build_object('reportedLate', true, 'message', coalesce(${outcome}->>'message', '') || ' (reported after the command had timed out)') ELSE '{}'::jsonb END`;

/**
 * Takes the agent's own reports out of a verified batch: worker announcements of the command
 * channel (→ agent_workers) and command outcomes (→ the command, if this very agent was sent it
 * and it is still open, or timed out before the report came). Returns the events left for the ingest pipeline.
 */
export function splitAgentReports(events: Record<string, unknown>[]): { events: Record<string, unknown>[]; outcomes: Record<string, unknown>[]; announcements: Record<string, unknown>[] } {
  const rest: Record<string, unknown>[] = [];
  const outcomes: Record<string, unknown>[] = [];
  const announcements: Record<string, unknown>[] = [];
  for (const ev of events) {
    if (ev.type === 'command') {
      outcomes.push(ev);
      continue;
    }
    const fields = ev.fields as { commands?: unknown } | undefined;
    if (ev.type === 'worker' && ev.kind !== 'worker-offline' && fields && typeof fields.commands === 'object' && fields.commands !== null) announcements.push(ev);
    rest.push(ev);
  }
  return { events: rest, outcomes, announcements };
}

const ENGINE_NAMES: ReadonlySet<unknown> = new Set(ENGINES);
/** A string the database can store, of at most `max` characters: what a report's ids and names must be, or it is skipped. */
const storable = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max && !hasUnstorableText(v);
const strings = (v: unknown, max: number): string[] => (Array.isArray(v) ? v.filter((x): x is string => storable(x, 1024)).slice(0, max) : []);

/** Stores the agent's reports; a command an outcome settles is audited (`audit`), in the same transaction. */
export async function recordAgentReports(db: Db, projectId: number, agentId: string, outcomes: Record<string, unknown>[], announcements: Record<string, unknown>[], audit?: SettledAudit): Promise<number> {
  if (announcements.length) {
    const latest = new Map<string, { engine: string; worker: string; actions: string[]; queues: string[]; channel: CommandChannel | null }>();
    for (const ev of announcements) {
      const c = (ev.fields as { commands: { actions?: unknown; queues?: unknown; channel?: unknown } }).commands;
      if (!ENGINE_NAMES.has(ev.engine) || !storable(ev.worker, 1024)) continue;
      const engine = ev.engine as string;
      const channel = c.channel === 'redis' || c.channel === 'amqp' ? c.channel : null;
      latest.set(`${engine}\u0000${ev.worker}`, { engine, worker: ev.worker, actions: strings(c.actions, 16), queues: strings(c.queues, 256), channel });
    }
    const rows = [...latest.values()];
    if (rows.length) {
      await db.query(
        `INSERT INTO agent_workers AS a (project_id, engine, worker, agent_id, actions, queues, channel, last_seen_at)
         SELECT $1, u.e, u.w, $2, u.a, u.q, u.c, now() FROM json_to_recordset($3::json) AS u(e text, w text, a text[], q text[], c text)
         ON CONFLICT (project_id, engine, worker) DO UPDATE SET agent_id = excluded.agent_id, actions = excluded.actions, queues = excluded.queues,
           channel = excluded.channel, last_seen_at = now()`,
        [projectId, agentId, JSON.stringify(rows.map((r) => ({ e: r.engine, w: r.worker, a: r.actions, q: r.queues, c: r.channel })))],
      );
    }
  }
  let settled = 0;
  for (const given of outcomes) {
    const state = given.state === 'succeeded' ? 'succeeded' : given.state === 'failed' ? 'failed' : null;
    if (!state || !storable(given.commandId, 255) || !Number.isSafeInteger(given.command)) continue;
    // What of the report is stored as it came: a time and a worker name the database can hold.
    const ev: Record<string, unknown> = { ...given, occurredAt: Number.isFinite(given.occurredAt) ? given.occurredAt : Date.now(), worker: storable(given.worker, 1024) ? given.worker : undefined };
    const reported = typeof ev.detail === 'object' && ev.detail !== null && !Array.isArray(ev.detail) ? ev.detail as Record<string, unknown> : {};
    const { via: _v, ref: _r, agent: _a, worker: _w, ...raw } = reported; // what routed the command is ours to say
    // Scrubbed like task payload: an agent's error text can quote arguments, URLs with passwords, tokens.
    const clean = scrub(raw) as Record<string, unknown>;
    const detail = JSON.stringify(clean).length <= MAX_DETAIL_CHARS ? clean : { message: String(clean.message ?? '').slice(0, 1000) };
    const outcome = { ...detail, message: typeof detail.message === 'string' ? detail.message : state === 'succeeded' ? 'the z4j agent ran it' : 'the z4j agent could not run it', reportedAt: isoTime(ev.occurredAt) };
    settled += await db.transaction(async (tx) => {
      const one = (await tx.query<Settled>(
        `UPDATE commands c SET state = $5, outcome = coalesce(outcome, '{}'::jsonb) || $6::jsonb || ${markLate('$6::jsonb')}, updated_at = now(), audited = true
          WHERE project_id = $1 AND id = $2 AND outcome->>'ref' = $3 AND outcome->>'agent' = $4 AND state IN ${OPEN_OR_TIMED_OUT}
          RETURNING ${SETTLED}`,
        [projectId, ev.command, ev.commandId, agentId, state, JSON.stringify(outcome)],
      )).rows[0] ?? await settleFanOutReply(tx, projectId, agentId, ev, state, detail);
      if (one) await auditSettled(audit, [one], { kind: 'system', id: agentId, name: `z4j agent of ${typeof ev.worker === 'string' ? ev.worker.slice(0, 200) : 'a worker'}` }, tx);
      // An agent that could not enqueue a task z4j sent through it: the reason kept for that task goes.
      if (one?.state === 'failed') await dropReasons(tx, one.id);
      return one ? 1 : 0;
    }).catch((err: unknown) => {
      if (isDataException(err)) return 0; // this report is skipped, not the batch its events came in
      throw err;
    });
  }
  return settled;
}

/**
 * One worker's reply to a command sent to several (a cancel): the first that took it settles
 * it `succeeded`; one that says the task is already in its hands (started there, or taken by the
 * engine's own receiver) settles it `failed`, even after another took it: a cancel cannot stop
 * it there, and the others will never see its message. Other refusals are kept, and fail the
 * command once every worker refused.
 */
async function settleFanOutReply(tx: Queryable, projectId: number, agentId: string, ev: Record<string, unknown>, state: 'succeeded' | 'failed', detail: Record<string, unknown>): Promise<Settled | null> {
  const worker = typeof ev.worker === 'string' ? ev.worker.slice(0, 1024) : 'a worker';
  const started = state === 'failed' && detail.code === 'STARTED';
  const row = (await tx.query<{ refs: Record<string, string>; refused: Record<string, string> | null; taken_by: string | null }>(
    `SELECT outcome->'refs' AS refs, outcome->'refused' AS refused, CASE WHEN state = 'succeeded' THEN outcome->>'takenBy' END AS taken_by FROM commands
      WHERE project_id = $1 AND id = $2 AND outcome->'refs'->>$3 = $4
        AND (state IN ${OPEN_OR_TIMED_OUT} OR ($5 AND state = 'succeeded' AND outcome ? 'takenBy')) FOR UPDATE`,
    [projectId, ev.command, ev.commandId, agentId, started],
  )).rows[0];
  if (!row) return null;
  const message = typeof detail.message === 'string' ? detail.message : null;
  let outcome: Record<string, unknown>;
  let next: 'succeeded' | 'failed' | null = state;
  if (state === 'succeeded') {
    outcome = { ...detail, takenBy: worker, message: `${worker} took it${message ? `: ${message}` : ''}`, reportedAt: isoTime(ev.occurredAt) };
  } else if (started) {
    const after = row.taken_by ? ` (${row.taken_by} had said it would skip it; the task was in ${worker}'s hands)` : '';
    outcome = { ...detail, code: 'STARTED', message: `${worker}: ${message ?? 'the task already started here'}${after}`.slice(0, 2000), reportedAt: isoTime(ev.occurredAt) };
  } else {
    const refused = { ...row.refused, [worker]: message ?? 'refused' };
    const all = Object.keys(refused).length >= Object.keys(row.refs).length;
    next = all ? 'failed' : null;
    outcome = all ? { refused, message: `no worker took it: ${Object.entries(refused).map(([w, m]) => `${w}: ${m}`).join('; ')}`.slice(0, 2000), reportedAt: isoTime(ev.occurredAt) } : { refused };
  }
  const done = (await tx.query<Settled>(
    `UPDATE commands c SET state = coalesce($2, state), outcome = outcome || $3::jsonb || CASE WHEN $2 IS NULL THEN '{}'::jsonb ELSE ${markLate('$3::jsonb')} END,
        updated_at = now(), audited = audited OR $2 IS NOT NULL
      WHERE id = $1 RETURNING ${SETTLED}`,
    [ev.command, next, JSON.stringify(outcome)],
  )).rows[0];
  return next ? done ?? null : null;
}
