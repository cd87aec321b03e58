// What the drivers of engines on RabbitMQ share: one lazily opened connection (reopened after it
// drops), a short-lived confirm channel per operation, queue counts that treat a never-declared
// queue as empty, closed with the service.
import amqp from 'amqplib';

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

  async close(): Promise<void> {
    const c = this.connection;
    this.connection = null;
    if (c) await (await c.catch(() => null))?.close().catch(() => undefined);
  }
}
