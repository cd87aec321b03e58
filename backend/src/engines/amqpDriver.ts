// What the drivers of engines on RabbitMQ share: one lazily opened connection (reopened after it
// drops), a short-lived confirm channel per operation, queue counts that treat a never-declared
// queue as empty, the agent command channel, closed with the service.
import type amqp from 'amqplib';
import { commandQueue, NoAgentRoute } from '../actions/agentCommands.js';
import { connectAmqp } from '../amqp.js';
import type { Requeued } from './driver.js';

/** A dead letter's new content on its way back, its task and the attempt its rerun is. */
export interface LetterEdit {
  message: Buffer;
  taskId: string;
  attempt: number;
}

/** An AMQP 404 (queue not found): the queue was never declared, so it holds nothing. */
const notFound = (err: unknown) => (err as { code?: number })?.code === 404;

/** Most dead letters one requeue reads. */
const MAX_REQUEUE = 100_000;
/** Dead letters published between two confirmation waits. */
const REQUEUE_ROUND = 200;

/**
 * The queue a dead letter last died in, from the headers RabbitMQ adds when it dead-letters a
 * message: `x-last-death-queue` (RabbitMQ 3.13+), else the newest `x-death` entry (RabbitMQ lists
 * them newest first). Not the first death: a delayed message first "dies" in its delay queue by
 * design (its TTL routes it on to the task queue), and the task queue is where it goes back.
 */
export function diedIn(letter: amqp.GetMessage): string | null {
  const headers = letter.properties.headers ?? {};
  const deaths = headers['x-death'] as { queue?: unknown }[] | undefined;
  const queue = headers['x-last-death-queue'] ?? (Array.isArray(deaths) ? deaths[0]?.queue : undefined) ?? headers['x-first-death-queue'];
  return typeof queue === 'string' ? queue : queue instanceof Buffer ? queue.toString('utf8') : null;
}

/** A letter's properties for its next publish: never its expiry (it would die again); without RabbitMQ's death records when it goes back to its queue. */
function republished(letter: amqp.GetMessage, fresh: boolean): amqp.Options.Publish {
  const { contentType, contentEncoding, priority, correlationId, messageId, timestamp, type, appId } = letter.properties;
  const headers = Object.fromEntries(Object.entries(letter.properties.headers ?? {}).filter(([k]) => !fresh || !/^x-(death|first-death-|last-death-)/.test(k)));
  return { deliveryMode: 2, headers, contentType, contentEncoding, priority, correlationId, messageId, timestamp, type, appId, mandatory: true };
}

export abstract class AmqpEngineDriver {
  private connection: Promise<amqp.ChannelModel> | null = null;
  readonly commandChannel = 'amqp' as const;

  constructor(private readonly url: string, private readonly connectionName: string) {}

  private connect(): Promise<amqp.ChannelModel> {
    if (!this.connection) {
      const c = connectAmqp(this.url, this.connectionName);
      c.then((conn) => {
        conn.on('error', () => undefined); // surfaced by the operation that fails
        conn.on('close', () => { if (this.connection === c) this.connection = null; });
      }, () => { if (this.connection === c) this.connection = null; });
      this.connection = c;
    }
    return this.connection;
  }

  /** A confirm channel of its own: a failed check (404) closes the channel it happens on. */
  protected async withChannel<T>(fn: (ch: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
    const ch = await (await this.connect()).createConfirmChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Purges or counts a queue; a queue nobody declared counts 0, or is `missing()`'s error. */
  protected async count(queue: string, op: 'purge' | 'check', missing?: () => Error): Promise<number> {
    try {
      return await this.withChannel(async (ch) => (op === 'purge' ? await ch.purgeQueue(queue) : await ch.checkQueue(queue)).messageCount);
    } catch (err) {
      if (!notFound(err)) throw err;
      if (missing) throw missing();
      return 0;
    }
  }

  /**
   * Moves dead letters from `from` back to the queue `to(letter)` names; a letter it names none
   * for stays (published again at the back of `from`, as it was). Each is published (confirmed)
   * before it is acked: a crash in between leaves it in both places (run twice) rather than in
   * neither. Letters go in rounds of REQUEUE_ROUND, confirmed together: one confirmation wait
   * per letter made 100,000 letters take over an hour. Stops at the count `from` had when it
   * started, so letters that die again meanwhile are not looped. `edit` may give a letter going
   * back new content, and name its task. Returns how many went back to a queue, and the tasks
   * `edit` named.
   */
  protected async moveDeadLetters(from: string, queue: string, to: (letter: amqp.GetMessage) => string | null, missing?: (queue: string) => Error, edit?: (content: Buffer) => LetterEdit | null): Promise<Requeued> {
    const waiting = Math.min(await this.count(from, 'check', missing && (() => missing(from))), MAX_REQUEUE);
    const done: Requeued = edit ? { requeued: 0, tasks: [] } : { requeued: 0 };
    if (!waiting) return done;
    await this.withChannel(async (ch) => {
      await ch.checkQueue(queue).catch((err: unknown) => {
        throw notFound(err) && missing ? missing(queue) : err;
      });
      for (let seen = 0; seen < waiting;) {
        const round: amqp.GetMessage[] = [];
        for (; seen < waiting && round.length < REQUEUE_ROUND; seen++) {
          const letter = await ch.get(from, { noAck: false });
          if (!letter) {
            seen = waiting; // the queue ran dry (another consumer, a TTL): this is the last round
            break;
          }
          const target = to(letter);
          const edited = target !== null ? edit?.(letter.content) : null;
          ch.publish('', target ?? from, edited?.message ?? letter.content, republished(letter, target !== null));
          round.push(letter);
          if (target !== null) done.requeued++;
          if (edited) done.tasks!.push({ taskId: edited.taskId, attempt: edited.attempt });
        }
        if (!round.length) break;
        await ch.waitForConfirms();
        for (const letter of round) ch.ack(letter);
      }
    });
    return done;
  }

  /**
   * The agent command channel on RabbitMQ: the worker's own durable queue, declared by its agent
   * (never by us: its arguments are the agent's); the command is persistent and dies with its
   * expiry. No queue means no agent there to take it.
   */
  async deliverAgentCommand(project: string, worker: string, signed: string, ttlS: number): Promise<void> {
    const queue = commandQueue(project, worker);
    await this.withChannel(async (ch) => {
      await ch.checkQueue(queue).catch((err: unknown) => {
        throw notFound(err) ? new NoAgentRoute(`worker ${worker} has no z4j command queue on RabbitMQ: its agent is not running`) : err;
      });
      ch.sendToQueue(queue, Buffer.from(signed, 'utf8'), { persistent: true, expiration: String(ttlS * 1000), contentType: 'application/json' });
      await ch.waitForConfirms();
    });
  }

  async close(): Promise<void> {
    const c = this.connection;
    this.connection = null;
    if (c) await (await c.catch(() => null))?.close().catch(() => undefined);
  }
}
