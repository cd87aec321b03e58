// What the drivers of engines on RabbitMQ share: one lazily opened connection (reopened after it
// drops), a short-lived confirm channel per operation, queue counts that treat a never-declared
// queue as empty, the agent command channel, closed with the service.
import amqp from 'amqplib';
import { commandQueue, NoAgentRoute } from '../actions/agentCommands.js';

/** An AMQP 404 (queue not found): the queue was never declared, so it holds nothing. */
const notFound = (err: unknown) => (err as { code?: number })?.code === 404;

export abstract class AmqpEngineDriver {
  private connection: Promise<amqp.ChannelModel> | null = null;

  constructor(private readonly url: string, private readonly connectionName: string) {}

  private connect(): Promise<amqp.ChannelModel> {
    if (!this.connection) {
      const c = amqp.connect(this.url, { clientProperties: { connection_name: this.connectionName } });
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

  /** Purges or counts a queue; a queue nobody declared counts 0. */
  protected async count(queue: string, op: 'purge' | 'check'): Promise<number> {
    try {
      return await this.withChannel(async (ch) => (op === 'purge' ? await ch.purgeQueue(queue) : await ch.checkQueue(queue)).messageCount);
    } catch (err) {
      if (notFound(err)) return 0;
      throw err;
    }
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
