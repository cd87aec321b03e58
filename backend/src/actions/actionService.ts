// Runs actions: checks the engine can do it and the task is in a state where it makes sense,
// records the command (idempotently), asks the driver, and records what happened.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/db.js';
import type { Capability, TaskAction, WorkerAction } from '../engines/capabilities.js';
import { can, NoPayload, PURGED_IDS_LIMIT, type AgentChannel, type EngineDriver, type RetryPayload, type TaskRef } from '../engines/driver.js';
import type { PurgeFilter } from '../engines/filteredPurge.js';
import type { Engine } from '../ingest/envelope.js';
import type { Logger } from '../logger.js';
import { NoAgentRoute, type AgentCommands } from './agentCommands.js';
import { COMMAND_COLUMNS, CommandEnded, createCommand, dropReasons, keepAlive, transition, type Command } from './commands.js';
import type { PayloadStore } from './payloads.js';
import { scrub } from '../redact/redact.js';
import { taskWorkerGone } from '../api/workerLiveness.js';
import { Z4J_MARKER } from '../ingest/taskState.js';
import { ActionFollowups, type Followup, type OfferEvents } from './followups.js';

const tasks = (n: number) => `${n} task${n === 1 ? '' : 's'}`;

export class ActionRefused extends Error {
  constructor(readonly status: 404 | 409 | 422, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Task states each action accepts. Retry needs a finished task, or one lost with its worker (a
 * started task whose worker is gone: see lostWith); cancel one that has not started.
 */
const ACCEPTS: Record<TaskAction, readonly string[]> = {
  retry: ['failed', 'succeeded', 'revoked', 'rejected', 'expired'],
  cancel: ['enqueued', 'received'],
  terminate: ['received', 'started', 'retried'],
};

/** The setting that gives the service a driver for each engine, its broker for actions (service.ts). */
export const DRIVER_SETTINGS: Record<Engine, string> = {
  celery: 'Z4J_CELERY_BROKERS', rq: 'Z4J_RQ_REDIS_URL', dramatiq: 'Z4J_DRAMATIQ_BROKER_URL', huey: 'Z4J_HUEY_REDIS_URL', arq: 'Z4J_ARQ_REDIS_URL', taskiq: 'Z4J_TASKIQ_BROKER_URL',
};

export interface Requester {
  projectId: number;
  projectSlug: string;
  idempotencyKey: string;
  requestedBy: string;
  bulkId?: number;
}

export interface ActionOptions {
  /** Records an event in a task's timeline (through the ingest pipeline, like any source). */
  recordEvent?: (candidate: Record<string, unknown>, sealedPayload?: Buffer) => Promise<void>;
  /**
   * Records many events at once (a purge's, a requeue's), without crowding out the sources
   * (IngestPipeline.offerUnhurried); `done` once per event committed. Kept in the database
   * until then (ActionFollowups).
   */
  recordEvents?: OfferEvents;
  /** The agent command channel, for actions an engine can only do from inside its worker. */
  agentCommands?: AgentCommands | null;
  /** Seconds before an unconfirmed command times out; an agent command expires with it (never runs late). */
  commandTimeoutS?: number;
  /** Z4J_WORKER_LOST_AFTER: a worker's silence before its started tasks may be retried (default 60). */
  workerLostAfterS?: number;
  /**
   * Slugs of the projects whose actions may reach the configured brokers (Z4J_BROKER_PROJECTS).
   * A broker is not a project's: whatever runs on it is reachable from any project allowed here.
   */
  brokerProjects: ReadonlySet<string>;
}

export class ActionService {
  private readonly recordEvent: NonNullable<ActionOptions['recordEvent']>;
  /** Queue actions' task events, kept until the pipeline has them (recordLater). */
  readonly followups: ActionFollowups;
  private readonly agentCommands: AgentCommands | null;
  private readonly commandTimeoutS: number;
  private readonly workerLostAfterS: number;
  private readonly brokerProjects: ReadonlySet<string>;

  constructor(
    private readonly db: Db,
    readonly drivers: ReadonlyMap<Engine, EngineDriver>,
    private readonly payloads: PayloadStore,
    private readonly log: Logger,
    options: ActionOptions,
  ) {
    this.recordEvent = options.recordEvent ?? (async () => undefined);
    this.followups = new ActionFollowups(db, options.recordEvents ?? (async (candidates, done) => {
      for (const c of candidates) {
        await this.recordEvent(c);
        done();
      }
    }), log);
    this.agentCommands = options.agentCommands ?? null;
    this.commandTimeoutS = options.commandTimeoutS ?? 120;
    this.workerLostAfterS = options.workerLostAfterS ?? 60;
    this.brokerProjects = options.brokerProjects;
  }

  /** Whether the project's actions may reach the brokers at all (the capability matrix is empty for it otherwise). */
  actsOnBrokers(projectSlug: string): boolean {
    return this.brokerProjects.has(projectSlug);
  }

  requireBrokers(projectSlug: string): void {
    if (this.actsOnBrokers(projectSlug)) return;
    throw new ActionRefused(409, 'BROKER_NOT_IN_PROJECT', `project ${projectSlug} cannot act on the brokers z4j is configured with (they are ${[...this.brokerProjects].join(', ')}'s; see Z4J_BROKER_PROJECTS)`);
  }

  /**
   * The engine's driver, if it can do `capability` for this project. A project's tasks, queues
   * and workers are what its sources and agents report, and an agent of one project can report
   * any queue name: only the operator's Z4J_BROKER_PROJECTS says which projects own the brokers.
   */
  driver(engine: Engine, capability: Capability, projectSlug: string): EngineDriver {
    this.requireBrokers(projectSlug);
    const d = this.drivers.get(engine);
    if (!can(d, capability)) {
      // Say why: an engine this service has no broker for is not one that cannot do it.
      const why = !d ? `: this service has no ${engine} broker to act on (set ${DRIVER_SETTINGS[engine]})` : d.notConfigured ? `: ${d.notConfigured}` : ' (README, "Actions on each engine")';
      throw new ActionRefused(409, 'UNSUPPORTED', `${engine} does not support ${capability} here${why}`);
    }
    return d!;
  }

  /**
   * Refuses a worker or queue the project has not seen. The drivers act on every broker the
   * service is configured with, whichever project reports there; without this an Admin of one
   * project could purge or shut down what only another project's tasks use.
   */
  async requireInProject(projectId: number, engine: Engine, what: 'worker' | 'queue', name: string): Promise<void> {
    const sql = what === 'worker'
      ? 'SELECT 1 FROM workers WHERE project_id = $1 AND engine = $2 AND hostname = $3'
      : 'SELECT 1 FROM queues WHERE project_id = $1 AND engine = $2 AND name = $3';
    if (!(await this.db.query(sql, [projectId, engine, name])).rows.length) {
      throw new ActionRefused(404, what === 'worker' ? 'WORKER_NOT_FOUND' : 'QUEUE_NOT_FOUND', `${what} ${engine}/${name} is not known in this project (z4j has seen none of its ${what === 'worker' ? 'heartbeats' : 'tasks'} here)`);
    }
  }

  /** Records an action refused before it reached an engine (for bulk jobs: every task gets an outcome). */
  async refused(engine: Engine, target: string, kind: Capability, who: Requester, err: ActionRefused): Promise<{ command: Command; created: boolean }> {
    const { command, created } = await createCommand(this.db, { ...who, kind, engine, target, args: {} });
    if (!created) return { command, created };
    return { command: (await transition(this.db, command.id, 'failed', { code: err.code, message: err.message })) ?? command, created };
  }

  async taskAction(engine: Engine, taskId: string, action: TaskAction, who: Requester): Promise<{ command: Command; created: boolean }> {
    const driver = this.driver(engine, `task.${action}`, who.projectSlug);
    const task = (await this.db.query<TaskRef>(
      'SELECT task_id AS "taskId", name, queue, worker, state FROM tasks WHERE project_id = $1 AND engine = $2 AND task_id = $3',
      [who.projectId, engine, taskId],
    )).rows[0];
    if (!task) throw new ActionRefused(404, 'TASK_NOT_FOUND', `task ${engine}/${taskId} not found`);
    const { command, created } = await createCommand(this.db, { ...who, kind: `task.${action}`, engine, target: taskId, args: {} });
    if (!created) return { command, created };
    const lostWith = action === 'retry' && task.state === 'started' ? await this.lostWith(task, engine, who.projectId) : null;
    if (!ACCEPTS[action].includes(task.state) && !lostWith) {
      const why = action === 'retry' && task.state === 'started' ? ' (z4j retries a started task only once its worker is gone: terminate it, or wait for its end)' : '';
      const done = await transition(this.db, command.id, 'failed', { message: `cannot ${action} a task that is ${task.state}${why}`, taskState: task.state });
      return { command: done ?? command, created };
    }
    return { command: await this.dispatch(command, () => this.runTaskAction(driver, action, task, who, command, lostWith)), created };
  }

  /**
   * The worker a started task was lost with: gone (offline, or silent past its heartbeats and
   * Z4J_WORKER_LOST_AFTER) while the task never reported an end, so nothing will run it to its
   * end or say what became of it.
   * Retrying such a task is the on-call's way out of a killed worker. Where the broker gives a dead
   * worker's unacknowledged messages back (Celery's acks_late, Dramatiq, arq), the engine may also
   * run it again on its own: the plugin says so before a retry is sent.
   */
  private async lostWith(task: TaskRef, engine: Engine, projectId: number): Promise<string | null> {
    return (await taskWorkerGone(this.db, projectId, engine, task, this.workerLostAfterS))?.hostname ?? null;
  }

  private async runTaskAction(driver: EngineDriver, action: TaskAction, task: TaskRef, who: Requester, command: Command, lostWith: string | null): Promise<{ state: 'dispatched' | 'succeeded'; detail?: Record<string, unknown> }> {
    if (action === 'retry') {
      const payload = await this.payloads.open(who.projectId, driver.engine, task.taskId);
      const newTaskId = randomUUID();
      // Linked before it is sent, so the new task's first event already finds its origin.
      await this.db.query(
        'INSERT INTO task_retries (project_id, engine, original_task_id, new_task_id, command_id) VALUES ($1, $2, $3, $4, $5)',
        [who.projectId, driver.engine, task.taskId, newTaskId, command.id],
      );
      const lost = lostWith === null ? '' : ` (lost with worker ${lostWith})`;
      const sent = await this.sendAsNewTask(driver, payload, newTaskId, task, who, command, `retry of ${task.taskId}${lost} from z4j by ${who.requestedBy}`);
      return lostWith === null ? sent : { ...sent, detail: { ...sent.detail, lostWith } };
    }
    const agent = this.agentChannel(driver, who, command);
    const d = action === 'cancel' ? await driver.cancel!(task, agent) : await driver.terminate!(task, agent);
    if (d.confirmed) {
      // The engine will not tell anyone (the message simply left its queue): the timeline hears it from us.
      await this.recordEvent({
        v: 1, type: 'task', id: `z4j-command-${command.id}`, engine: driver.engine, project: who.projectSlug, kind: 'revoked',
        taskId: task.taskId, occurredAt: Date.now(), fields: { name: task.name ?? undefined, reason: `${action === 'cancel' ? 'cancelled' : 'terminated'} from z4j by ${who.requestedBy}` },
      });
      return { state: 'succeeded', detail: d.detail };
    }
    // Settled by the reconciler when the engine reports what the task did.
    return { state: 'dispatched', detail: d.detail };
  }

  /**
   * Why z4j cannot send a call of `engine` as a new task for this project, or null when it can:
   * a driver for the engine, brokers the project may act on, and a retry that sends from the
   * call alone (a driver that can only copy an original task's message declares cannotSendCall).
   * Schedules check it when created.
   */
  sendRefusal(engine: Engine, projectSlug: string): { code: 'ENGINE_NOT_CONFIGURED' | 'ENGINE_CANNOT_SEND'; message: string } | null {
    const d = this.drivers.get(engine);
    if (!d || d.notConfigured) return { code: 'ENGINE_NOT_CONFIGURED', message: d?.notConfigured ?? `this service has no ${engine} driver: set ${DRIVER_SETTINGS[engine]}` };
    if (!this.actsOnBrokers(projectSlug)) {
      return { code: 'ENGINE_NOT_CONFIGURED', message: `project ${projectSlug} cannot act on the brokers z4j is configured with (see Z4J_BROKER_PROJECTS)` };
    }
    if (!can(d, 'task.retry')) return { code: 'ENGINE_CANNOT_SEND', message: `the ${engine} driver cannot send tasks` };
    if (d.cannotSendCall) return { code: 'ENGINE_CANNOT_SEND', message: d.cannotSendCall };
    return null;
  }

  /**
   * Sends `call` as a new task `newTaskId` of `engine`, as a retry sends its original's payload:
   * a command of `as.kind` on `as.target` (idempotent by `who.idempotencyKey`), its outcome
   * recorded, and the new task in the explorer with `as.reason`. A refusal before anything is
   * sent (no driver, see sendRefusal) throws ActionRefused; a failure after is a failed command.
   */
  async sendCall(engine: Engine, call: RetryPayload, newTaskId: string, who: Requester, as: { kind: string; target: string; reason: string }): Promise<{ command: Command; created: boolean }> {
    const refusal = this.sendRefusal(engine, who.projectSlug);
    if (refusal) throw new ActionRefused(409, refusal.code, refusal.message);
    const driver = this.drivers.get(engine)!;
    const { command, created } = await createCommand(this.db, { ...who, kind: as.kind, engine, target: as.target, args: { newTaskId } });
    if (!created) return { command, created };
    return { command: await this.dispatch(command, () => this.sendAsNewTask(driver, call, newTaskId, null, who, command, as.reason)), created };
  }

  /**
   * Has the driver send `payload` as the new task `newTaskId` (`original`: the task it is a
   * retry of, null for a call of its own). Sent straight to the broker, the new task shows at
   * once, with its queue, even where the engine reports no enqueue of its own (Celery sends
   * task-sent only from its own producers). Sent through an agent, it shows when the agent's
   * engine hooks report the enqueue: an agent that refuses leaves no phantom task behind. Its
   * reason is kept beside (task_reasons), before the command goes: the task's detail shows it on
   * that enqueue, whenever the agent's event comes. The new task carries the same call, sealed
   * for its own id: no agent reports an enqueue z4j made, and the new task can be retried in turn.
   */
  private async sendAsNewTask(driver: EngineDriver, payload: RetryPayload | null, newTaskId: string, original: TaskRef | null, who: Requester, command: Command, reason: string): Promise<{ state: 'dispatched' | 'succeeded'; detail?: Record<string, unknown> }> {
    const viaAgent = driver.capabilities['task.retry']?.via === 'agent';
    if (viaAgent) {
      await this.db.query(
        'INSERT INTO task_reasons (project_id, engine, task_id, reason, command_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [who.projectId, driver.engine, newTaskId, reason, command.id],
      );
    }
    let d: Awaited<ReturnType<NonNullable<EngineDriver['retry']>>>;
    // The enqueue's time is the send's start: a worker may take, run and end the new task before
    // the broker's reply reaches us, and the timeline must not show it enqueued after it ended.
    const sentAt = Date.now();
    try {
      d = await driver.retry!(payload, newTaskId, original, this.agentChannel(driver, who, command));
    } catch (err) {
      // The command fails (dispatch): no task will come for the reason to explain. An agent that
      // refuses later drops it when its report settles the command (agentCommands.ts).
      if (viaAgent) await dropReasons(this.db, command.id);
      throw err;
    }
    if (!d.awaitsAgent) {
      const queue = payload?.queue ?? original?.queue ?? (typeof d.detail?.queue === 'string' ? d.detail.queue : undefined);
      await this.recordEvent({
        v: 1, type: 'task', id: `z4j-command-${command.id}-enqueued`, engine: driver.engine, project: who.projectSlug, kind: 'enqueued',
        taskId: newTaskId, occurredAt: sentAt,
        // The call's arguments too (the pipeline redacts them as any event's): a worker's agent
        // reports them only for a message no agent recorded, and the copy a retry sends still
        // carries its original producer's mark that one did (RQ's job meta, Dramatiq's options).
        fields: { name: payload?.name ?? original?.name ?? undefined, queue, reason, args: payload?.args, kwargs: payload?.kwargs },
      }, payload ? this.payloads.sealFor(who.projectId, driver.engine, newTaskId, payload) : undefined);
    }
    return { state: d.awaitsAgent ? 'dispatched' : 'succeeded', detail: { ...d.detail, newTaskId } };
  }

  private agentChannel(driver: EngineDriver, who: Requester, command: Command): AgentChannel | undefined {
    if (!this.agentCommands) return undefined;
    return this.agentCommands.channel(driver, { id: who.projectId, slug: who.projectSlug }, command, Date.parse(command.createdAt) + this.commandTimeoutS * 1000);
  }

  /**
   * Purges the whole queue, or with a filter only its waiting messages that match. The tasks
   * removed will never run and no engine says so: where the broker names them, each is recorded
   * revoked ("purged from z4j by …"), so none stays enqueued in the explorer for ever.
   */
  async purgeQueue(engine: Engine, queue: string, who: Requester, filter: PurgeFilter | null): Promise<{ command: Command; created: boolean }> {
    const driver = this.driver(engine, filter ? 'queue.purge_filtered' : 'queue.purge', who.projectSlug);
    await this.requireInProject(who.projectId, engine, 'queue', queue);
    const kind = filter ? 'queue.purge_filtered' : 'queue.purge';
    return this.once(who, kind, engine, queue, { filter: filter ?? {} }, async (command) => {
      const at = Date.now();
      const purged = filter ? await driver.purgeMatching!(queue, filter) : await driver.purgeQueue!(queue);
      const detail = { purged: purged.purged, ...(filter ? { filter } : {}) };
      const recorded = purged.taskIds
        ? await this.revokeNamed(command, who, queue, filter, at, purged.taskIds)
        : purged.purged && !filter ? await this.markPurged(engine, queue, who, command, at, purged.purged) : {};
      // After markPurged, which reads when the queue was last empty before this purge.
      if (!filter) await this.emptiedAt(engine, queue, at);
      return { ...detail, ...recorded };
    });
  }

  /** The tasks a purge's broker named, each recorded revoked, saying who purged it. */
  private async revokeNamed(command: Command, who: Requester, queue: string, filter: PurgeFilter | null, at: number, taskIds: readonly string[]): Promise<Record<string, unknown>> {
    const fields = { name: filter?.name, queue, reason: `purged from z4j by ${who.requestedBy}` };
    const unrecorded = await this.recordLater({ commandId: command.id, kind: 'revoked', occurredAt: at, fields, tasks: taskIds.map((taskId) => ({ taskId })) });
    return unrecorded ? { message: unrecorded } : { revoked: taskIds.length };
  }

  /**
   * A purge the broker only counted (RabbitMQ's): the tasks z4j had waiting in the queue when it
   * began (no worker had taken them, none due later, none sent before the queue was last seen
   * empty) are marked revoked, when they are no more than the broker removed. A mark, not a report (ingest/taskState.ts isPurgeMark): a task a
   * worker had taken after all (its events still on their way) ends as that worker says. More
   * of them than the broker removed means z4j's picture of the queue is off (reports lost):
   * none is marked then.
   */
  private async markPurged(engine: Engine, queue: string, who: Requester, command: Command, at: number, removed: number): Promise<Record<string, unknown>> {
    const counted = 'the broker says how many messages it removed, not which';
    if (removed > PURGED_IDS_LIMIT) return { message: `${counted}, more than z4j marks at once (${PURGED_IDS_LIMIT}): their tasks keep their state in z4j` };
    // Sent since the queue was last seen empty: one sent before cannot be in it (it ran, and its
    // worker's reports were lost: z4j still shows it enqueued).
    const { rows } = await this.db.query<{ taskId: string; attempt: number }>(
      `SELECT task_id AS "taskId", attempt FROM tasks
        WHERE project_id = $1 AND queue = $2 AND state = 'enqueued' AND engine = $3
          AND state_at <= to_timestamp($4 / 1000.0) AND (eta IS NULL OR eta <= to_timestamp($4 / 1000.0))
          AND state_at > coalesce((SELECT empty_at FROM queues WHERE project_id = $1 AND engine = $3 AND name = $2), '-infinity')
        LIMIT $5`,
      [who.projectId, queue, engine, at, removed + 1],
    );
    if (!rows.length) return { message: `${counted}; z4j had none of their tasks waiting there` };
    if (rows.length > removed) return { message: `${counted}, and z4j had more tasks waiting there than that: they keep their state in z4j` };
    const fields = { queue, markedBy: Z4J_MARKER, inferred: true, reason: `purged by ${who.requestedBy} (the broker counted ${removed} messages removed, not which; this task was waiting in the queue)` };
    const unrecorded = await this.recordLater({ commandId: command.id, kind: 'revoked', occurredAt: at, fields, tasks: rows });
    return unrecorded ? { message: unrecorded } : { revoked: rows.length, message: `${counted}: z4j marked the tasks it had waiting there (a worker's report of one wins)` };
  }

  /**
   * A whole queue purged at `at`: nothing sent before then waits in it (for every project that
   * sees it: the broker is shared). A hint for the next purge's marks: not worth failing this one.
   */
  private async emptiedAt(engine: Engine, queue: string, at: number): Promise<void> {
    await this.db.query(
      `UPDATE queues SET empty_at = greatest(empty_at, to_timestamp($3 / 1000.0)) WHERE engine = $1 AND name = $2`,
      [engine, queue, at],
    ).catch((err) => this.log.warn({ engine, queue, err: String(err) }, 'could not note when a purged queue was empty'));
  }

  /**
   * One event for each task of a queue action, written down before the command answers and
   * recorded after: a purge of a million messages takes the pipeline a minute, longer than
   * Grafana's proxy waits for a reply. `occurredAt`: when the action began (a requeued task may
   * start before the broker's reply reaches us, and its timeline must not show it enqueued
   * after that). The broker has acted by now: a failure to write them is said in the outcome
   * (returned), not made the command's.
   */
  private async recordLater(followup: Followup): Promise<string | null> {
    try {
      await this.followups.add(followup);
      return null;
    } catch (err) {
      this.log.warn({ command: followup.commandId, err: String(err) }, `could not write down the ${followup.kind} events of a queue action`);
      return `z4j could not mark the ${tasks(followup.tasks.length)} ${followup.kind === 'revoked' ? 'revoked' : 'waiting again'}: they keep their state in z4j`;
    }
  }

  /** Resolves once the events of every action so far are recorded (tests). */
  async recorded(): Promise<void> {
    await this.followups.idle();
  }

  async requeueDeadLetters(engine: Engine, queue: string, who: Requester): Promise<{ command: Command; created: boolean }> {
    const driver = this.driver(engine, 'queue.requeue_dead_letters', who.projectSlug);
    await this.requireInProject(who.projectId, engine, 'queue', queue);
    return this.once(who, 'queue.requeue_dead_letters', engine, queue, {}, async (command) => {
      const at = Date.now();
      const { requeued, tasks } = await driver.requeueDeadLetters!(queue);
      // Waiting again, as the attempt its rerun is (the agent reports the rerun so too).
      const fields = { queue, reason: `requeued from the dead letters by ${who.requestedBy}` };
      const unrecorded = await this.recordLater({ commandId: command.id, kind: 'enqueued', occurredAt: at, fields, tasks: tasks ?? [] });
      return unrecorded ? { requeued, message: unrecorded } : { requeued };
    });
  }

  async workerAction(engine: Engine, hostname: string, action: WorkerAction, args: Record<string, unknown>, who: Requester): Promise<{ command: Command; created: boolean }> {
    const driver = this.driver(engine, `worker.${action}`, who.projectSlug);
    await this.requireInProject(who.projectId, engine, 'worker', hostname);
    return this.once(who, `worker.${action}`, engine, hostname, args, async () => {
      // Drivers that hear the worker's reply say what it answered; the others only know the broker took it.
      return (await driver.workerControl!(hostname, action, args)).detail ?? { message: 'sent to the worker' };
    });
  }

  /** Records the command (idempotently) and, the first time only, runs it to a final outcome. */
  private async once(who: Requester, kind: Capability, engine: Engine, target: string, args: Record<string, unknown>, run: (command: Command) => Promise<Record<string, unknown>>): Promise<{ command: Command; created: boolean }> {
    const { command, created } = await createCommand(this.db, { ...who, kind, engine, target, args });
    if (!created) return { command, created };
    return { command: await this.dispatch(command, async () => ({ state: 'succeeded', detail: await run(command) })), created };
  }

  private async reload(command: Command): Promise<Command> {
    return (await this.db.query<Command>(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1`, [command.id])).rows[0] ?? command;
  }

  /** Runs the driver call and records its outcome; a failure becomes a failed command, not a 500. */
  private async dispatch(command: Command, run: () => Promise<{ state: 'dispatched' | 'succeeded'; detail?: Record<string, unknown> }>): Promise<Command> {
    const stopKeepingAlive = keepAlive(this.db, command.id, this.commandTimeoutS);
    try {
      const { state, detail } = await run();
      // Null when it is already settled (an agent can report before this returns): show that.
      return (await transition(this.db, command.id, state, detail)) ?? (await this.reload(command));
    } catch (err) {
      if (err instanceof CommandEnded) return (await transition(this.db, command.id, err.state, { ...err.detail, message: err.message })) ?? command;
      if (err instanceof ActionRefused || err instanceof NoPayload || err instanceof NoAgentRoute) {
        const code = err instanceof ActionRefused ? err.code : err instanceof NoPayload ? 'NO_PAYLOAD' : 'NO_AGENT';
        return (await transition(this.db, command.id, 'failed', { code, message: err.message })) ?? command;
      }
      this.log.warn({ command: command.id, kind: command.kind, err: String(err) }, 'action failed');
      // Viewers read outcomes: a broker's error can quote a URL with its password.
      const reason = scrub(String((err as Error)?.message ?? err)) as string;
      return (await transition(this.db, command.id, 'failed', { message: `the engine refused or could not be reached: ${reason}` })) ?? command;
    } finally {
      stopKeepingAlive();
    }
  }
}
