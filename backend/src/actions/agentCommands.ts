// The agent command channel, service side (docs/agent-protocol.md, "Commands"): finds the
// worker whose agent can run a command, signs the command with that agent's live secrets, has
// the engine's driver deliver it on the worker's own broker, and settles the command when the
// agent's report of the outcome comes back in one of its signed batches.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { Db } from '../db/db.js';
import type { AgentChannel, AgentTarget, EngineDriver } from '../engines/driver.js';
import type { AgentKeyStore } from '../ingest/agentKeys.js';
import type { Command } from './commands.js';

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
    return { send: (action, args, to) => this.send(driver, project, command, expiresAt, action, args, to) };
  }

  private async send(driver: EngineDriver, project: { id: number; slug: string }, command: Command, expiresAt: number, action: string, args: Record<string, unknown>, to: AgentTarget): Promise<{ worker: string }> {
    if (!driver.deliverAgentCommand) throw new NoAgentRoute(`z4j cannot reach ${driver.engine} agents`);
    const route = await this.route(project.id, driver.engine, action, to);
    const creds = await this.keys.lookup(route.agentId);
    if (!creds || creds.project !== project.slug) throw new NoAgentRoute(`the z4j agent of worker ${route.worker} is unknown or revoked`);
    const wire: WireCommand = {
      v: 1, id: randomUUID(), command: command.id, project: project.slug, agent: route.agentId, worker: route.worker, engine: driver.engine,
      action, args, issuedAt: Date.now(), expiresAt,
    };
    const text = JSON.stringify(wire);
    // Recorded before delivery: the agent's report may come back before delivery returns.
    await this.db.query(
      `UPDATE commands SET state = 'dispatched', outcome = coalesce(outcome, '{}'::jsonb) || $2::jsonb, updated_at = now()
        WHERE id = $1 AND state IN ('pending', 'dispatched')`,
      [command.id, JSON.stringify({ via: 'agent', ref: wire.id, agent: route.agentId, worker: route.worker })],
    );
    const ttlS = Math.max(5, Math.ceil((expiresAt - Date.now()) / 1000) + 5);
    await driver.deliverAgentCommand(project.slug, route.worker, JSON.stringify({ command: text, sigs: signCommand(text, creds.secrets) }), ttlS);
    return { worker: route.worker };
  }

  /** The worker named, or the most recently seen live worker serving the queue, whose agent can run `action`. */
  private async route(projectId: number, engine: string, action: string, to: AgentTarget): Promise<{ worker: string; agentId: string }> {
    const worker = 'worker' in to ? to.worker : null;
    const queue = 'queue' in to ? to.queue : null;
    const row = (await this.db.query<{ worker: string; agentId: string; actions: string[] }>(
      `SELECT aw.worker, aw.agent_id AS "agentId", aw.actions
         FROM agent_workers aw JOIN workers w ON w.project_id = aw.project_id AND w.engine = aw.engine AND w.hostname = aw.worker
        WHERE aw.project_id = $1 AND aw.engine = $2 AND ${ALIVE_SQL}
          AND ($3::text IS NULL OR aw.worker = $3)
          AND ($4::text IS NULL OR aw.queues = '{}' OR $4 = ANY (aw.queues))
        ORDER BY ($5 = ANY (aw.actions)) DESC, w.last_seen_at DESC
        LIMIT 1`,
      [projectId, engine, worker, queue, action],
    )).rows[0];
    if (!row) {
      throw new NoAgentRoute(worker
        ? `worker ${worker} is offline, or has no z4j agent taking commands (its agent takes commands on a Redis or RabbitMQ broker)`
        : `no live ${engine} worker with a z4j agent taking commands serves ${queue ? `queue ${queue}` : 'this task'}`);
    }
    if (!row.actions.includes(action)) throw new NoAgentRoute(`the z4j agent in ${row.worker} cannot ${action} ${engine} tasks`);
    return row;
  }
}

const MAX_DETAIL_CHARS = 4096;

/**
 * Takes the agent's own reports out of a verified batch: worker announcements of the command
 * channel (→ agent_workers) and command outcomes (→ the command, if this very agent was sent it
 * and it is still open). Returns the events left for the ingest pipeline.
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

const strings = (v: unknown, max: number): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length <= 1024).slice(0, max) : []);

export async function recordAgentReports(db: Db, projectId: number, agentId: string, outcomes: Record<string, unknown>[], announcements: Record<string, unknown>[]): Promise<number> {
  if (announcements.length) {
    const latest = new Map<string, { engine: string; worker: string; actions: string[]; queues: string[] }>();
    for (const ev of announcements) {
      const c = (ev.fields as { commands: { actions?: unknown; queues?: unknown } }).commands;
      if (typeof ev.engine !== 'string' || typeof ev.worker !== 'string' || ev.worker.length > 1024) continue;
      latest.set(`${ev.engine}\u0000${ev.worker}`, { engine: ev.engine, worker: ev.worker, actions: strings(c.actions, 16), queues: strings(c.queues, 256) });
    }
    const rows = [...latest.values()];
    if (rows.length) {
      await db.query(
        `INSERT INTO agent_workers AS a (project_id, engine, worker, agent_id, actions, queues, last_seen_at)
         SELECT $1, u.e, u.w, $2, u.a, u.q, now() FROM json_to_recordset($3::json) AS u(e text, w text, a text[], q text[])
         ON CONFLICT (project_id, engine, worker) DO UPDATE SET agent_id = excluded.agent_id, actions = excluded.actions, queues = excluded.queues, last_seen_at = now()`,
        [projectId, agentId, JSON.stringify(rows.map((r) => ({ e: r.engine, w: r.worker, a: r.actions, q: r.queues })))],
      );
    }
  }
  let settled = 0;
  for (const ev of outcomes) {
    const state = ev.state === 'succeeded' ? 'succeeded' : ev.state === 'failed' ? 'failed' : null;
    if (!state || typeof ev.commandId !== 'string' || !Number.isSafeInteger(ev.command)) continue;
    const given = typeof ev.detail === 'object' && ev.detail !== null && !Array.isArray(ev.detail) ? ev.detail as Record<string, unknown> : {};
    const { via: _v, ref: _r, agent: _a, worker: _w, ...raw } = given; // what routed the command is ours to say
    const detail = JSON.stringify(raw).length <= MAX_DETAIL_CHARS ? raw : { message: String(raw.message ?? '').slice(0, 1000) };
    const outcome = { ...detail, message: typeof detail.message === 'string' ? detail.message : state === 'succeeded' ? 'the z4j agent ran it' : 'the z4j agent could not run it', reportedAt: ev.occurredAt };
    const res = await db.query(
      `UPDATE commands SET state = $5, outcome = coalesce(outcome, '{}'::jsonb) || $6::jsonb, updated_at = now()
        WHERE project_id = $1 AND id = $2 AND outcome->>'ref' = $3 AND outcome->>'agent' = $4 AND state IN ('pending', 'dispatched')
        RETURNING id`,
      [projectId, ev.command, ev.commandId, agentId, state, JSON.stringify(outcome)],
    );
    settled += res.rows.length;
  }
  return settled;
}
