// One driver per engine: it declares what it can do and does it. Actions (actions/) call
// drivers; drivers never touch the database.
import type { Engine } from '../ingest/envelope.js';
import type { MatchCount, PurgeFilter } from './filteredPurge.js';
import { ALL_CAPABILITIES, CAPABILITY_LABELS, type Capability, type CapabilityDeclaration, type WorkerAction } from './capabilities.js';

/** The exact payload a retry re-sends (opened from its sealed copy, never from the display copy). */
export interface RetryPayload {
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  queue?: string | null;
  options?: Record<string, unknown>;
}

export interface TaskRef {
  taskId: string;
  name: string | null;
  queue: string | null;
  worker: string | null;
  state: string;
}

/** What a driver reports once the broker (or agent) accepted the command. */
export interface Dispatch {
  /** Extra facts for the command's outcome (e.g. the new task id of a retry, messages purged). */
  detail?: Record<string, unknown>;
  /**
   * The action is done and no engine event will report it (e.g. a message removed from its
   * queue): z4j records the outcome in the task's timeline itself.
   */
  confirmed?: boolean;
  /** The agent in the worker runs it and reports the outcome: the command stays dispatched until then. */
  awaitsAgent?: boolean;
}

/** The broker an agent takes commands on, as its worker announces it. */
export type CommandChannel = 'redis' | 'amqp';

/** Where an agent command goes: the worker running the task, or any live worker serving a queue. */
export type AgentTarget = { worker: string } | { queue: string | null };

/**
 * The agent command channel as a driver sees it (docs/agent-protocol.md, "Commands"): the
 * service finds the worker and signs; the driver says what to run and delivers it
 * (`deliverAgentCommand`). Resolves once the broker holds the command.
 */
export interface AgentChannel {
  send(action: 'retry' | 'terminate', args: Record<string, unknown>, to: AgentTarget): Promise<{ worker: string }>;
  /**
   * The same command to every live worker serving `queue` (null: any) whose agent can run it,
   * each signed for its own agent. `workers`: where it went; `notReached`: live workers serving
   * the queue whose agent cannot run it (they would act as if it had never been sent).
   */
  sendToAll(action: 'cancel', args: Record<string, unknown>, queue: string | null): Promise<{ workers: string[]; notReached: string[] }>;
}

/** What a purge removed. */
export interface Purged extends Dispatch {
  purged: number;
  /**
   * The task ids of the messages removed (at most PURGED_IDS_LIMIT), so z4j can mark them
   * revoked; absent where the broker only counts what it removed (a RabbitMQ queue purge). A
   * message whose id z4j cannot read (a serializer of the application's own) is counted, not named.
   */
  taskIds?: string[];
}

/** What a requeue of dead letters put back. */
export interface Requeued extends Dispatch {
  requeued: number;
  /**
   * The tasks put back, each with the attempt its rerun is (its agent reports the rerun so), for
   * z4j to show them waiting again; absent where the engine's own copy tells its workers that
   * (RQ's requeue), or where the letters cannot be read.
   */
  tasks?: { taskId: string; attempt: number }[];
}

/** How many of a purge's task ids z4j marks revoked: a queue purged of more leaves the rest as they were. */
export const PURGED_IDS_LIMIT = 1_000_000;

/** Several brokers' purges as one: the ids of those that name their tasks (none named: none). */
export function allPurged(purges: readonly Purged[]): Purged {
  const named = purges.filter((p) => p.taskIds);
  const purged = purges.reduce((sum, p) => sum + p.purged, 0);
  return named.length ? { purged, taskIds: named.flatMap((p) => p.taskIds!).slice(0, PURGED_IDS_LIMIT) } : { purged };
}

export class NoPayload extends Error {
  constructor(message = 'z4j has no retry payload for this task: install the z4j agent where it is sent or run. An agent leaves out a call it cannot carry exactly (one holding a value JSON has no type for, such as a datetime, or over 512 KiB of JSON) and says why in the task\'s timeline (payloadOmitted)') {
    super(message);
  }
}

/** The channel, or a plain error when the service runs without one (it always has one; tests may not). */
export function needAgent(agent: AgentChannel | undefined, engine: Engine): AgentChannel {
  if (!agent) throw new Error(`${engine} needs the z4j agent command channel for this`);
  return agent;
}

/** Terminate through the agent in the worker process the task's `started` event named; the agent reports how it went. */
export async function terminateInWorker(engine: Engine, task: TaskRef, agent: AgentChannel | undefined, what = 'task'): Promise<Dispatch> {
  if (!task.worker) throw new Error(`z4j does not know which worker process runs this ${what}`);
  const { worker } = await needAgent(agent, engine).send('terminate', { taskId: task.taskId }, { worker: task.worker });
  return { awaitsAgent: true, detail: { worker } };
}

/** How long a worker's agent remembers a cancelled task id (its memory is also bounded in size: CancelledTasks in agent/src/z4j_agent/running.py). */
export const CANCEL_MEMORY_S = 86_400;

/** What a cancel through the agents can and cannot promise (the capability note of the drivers that use it). */
export const AGENT_CANCEL_NOTE = `through the z4j agents of the live workers serving the queue, as Celery revokes: each remembers the id (${CANCEL_MEMORY_S / 3600} h, at most 10,000 ids) and skips the message when it comes, reported revoked; the command succeeds once one worker took it and names the live workers it could not reach. A worker started after the cancel, or one without the agent, does not know it and runs the task (like a Celery revoke without --statedb), and the command then turns failed, saying the task ran anyway; a task already started is not stopped (terminate does that)`;

/**
 * Cancel where the broker cannot take one message out of its queue (AMQP): Celery's revoke
 * model. Every live worker serving the task's queue is told the id; its agent skips the message
 * when it comes, and reports it revoked. Succeeds when one worker took it (agentCommands.ts).
 */
export async function cancelInWorkers(engine: Engine, task: TaskRef, agent: AgentChannel | undefined): Promise<Dispatch> {
  const sent = await needAgent(agent, engine).sendToAll('cancel', { taskId: task.taskId, forgetAfterS: CANCEL_MEMORY_S }, task.queue);
  return { awaitsAgent: true, detail: sent.notReached.length ? sent : { workers: sent.workers } };
}

export class UnsupportedAction extends Error {
  constructor(readonly engine: Engine, readonly capability: Capability) {
    super(`${engine} cannot ${CAPABILITY_LABELS[capability].toLowerCase()}`);
  }
}

export interface EngineDriver {
  readonly engine: Engine;
  /** The broker flavour, when an engine has a driver per broker (its own column in the matrix). */
  readonly variant?: string;
  readonly capabilities: Partial<Record<Capability, CapabilityDeclaration>>;
  /**
   * Sends the task again as a new task with id `newTaskId`: from the sealed payload, or (where
   * the engine still holds the original message, e.g. an RQ job hash) from the engine's own copy.
   * Throws NoPayload when it has neither. `original` is null for a call of z4j's own (a
   * schedule's), sent where `cannotSendCall` does not say otherwise.
   */
  retry?(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null, agent?: AgentChannel): Promise<Dispatch>;
  /** Why `retry` cannot send a call with no original task (schedules send so); absent when it can. */
  readonly cannotSendCall?: string;
  /** Why the driver cannot act at all on this service (nothing configured for it); absent when it can. */
  readonly notConfigured?: string;
  cancel?(task: TaskRef, agent?: AgentChannel): Promise<Dispatch>;
  terminate?(task: TaskRef, agent?: AgentChannel): Promise<Dispatch>;
  /** Removes every waiting message of the queue; returns how many were removed, and which tasks where it can tell. */
  purgeQueue?(queue: string): Promise<Purged>;
  /** How many waiting messages match the filter (a bounded scan: `complete` false means "at least"). */
  countMatching?(queue: string, filter: PurgeFilter): Promise<MatchCount>;
  /** Removes exactly the waiting messages that match the filter, never another; returns how many, and which tasks. */
  purgeMatching?(queue: string, filter: PurgeFilter): Promise<Purged>;
  /** Puts the queue's dead letters (failed jobs) back on it; returns how many, and which tasks where it tells (Requeued). */
  requeueDeadLetters?(queue: string): Promise<Requeued>;
  /** Number of messages waiting in the queue, or null when the broker cannot say. */
  queueDepth?(queue: string): Promise<number | null>;
  workerControl?(hostname: string, action: WorkerAction, args: Record<string, unknown>): Promise<Dispatch>;
  /** Puts a signed agent command where the agent in `worker` takes it, for at most `ttlS` seconds. */
  deliverAgentCommand?(project: string, worker: string, signed: string, ttlS: number): Promise<void>;
  /** Which agents `deliverAgentCommand` reaches: those announcing this channel. */
  readonly commandChannel?: CommandChannel;
  close?(): Promise<void>;
}

/** Whether the driver can do it here: declared, and configured to act at all. */
export function can(driver: EngineDriver | undefined, capability: Capability): boolean {
  return Boolean(driver && !driver.notConfigured && driver.capabilities[capability]);
}

/** Rows of the capability matrix: one per capability, one cell per engine. */
export function capabilityMatrix(drivers: readonly Pick<EngineDriver, 'engine' | 'capabilities'>[]): { capability: Capability; label: string; engines: Record<string, CapabilityDeclaration | null> }[] {
  return ALL_CAPABILITIES.map((capability) => ({
    capability,
    label: CAPABILITY_LABELS[capability],
    engines: Object.fromEntries(drivers.map((d) => [d.engine, d.capabilities[capability] ?? null])),
  }));
}

/** The matrix as the Markdown table the README shows (checked by a test, regenerated by `z4j capabilities`); a column per engine and broker variant. */
export function capabilityMatrixMarkdown(drivers: readonly Pick<EngineDriver, 'engine' | 'variant' | 'capabilities'>[]): string {
  const head = `| action | ${drivers.map((d) => (d.variant ? `${d.engine} (${d.variant})` : d.engine)).join(' | ')} |\n|---|${drivers.map(() => '---').join('|')}|\n`;
  const rows = ALL_CAPABILITIES.map((capability) => {
    const cells = drivers.map((d) => {
      const c = d.capabilities[capability];
      return c ? (c.via === 'agent' ? 'yes (agent)' : 'yes') : '—';
    });
    return `| ${CAPABILITY_LABELS[capability]} | ${cells.join(' | ')} |`;
  });
  return head + rows.join('\n') + '\n';
}
