// One RabbitMQ connection that consumes, for a source: connects, lets the source declare and
// start consuming on a fresh channel, and reconnects with backoff whenever the connection
// drops (the broker redelivers what was not acknowledged, so nothing is lost meanwhile).
import type amqp from 'amqplib';
import { connectAmqp } from '../amqp.js';
import type { SourceHealth } from './source.js';

export class AmqpConsumer {
  private conn: amqp.ChannelModel | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private backoffMs = 500;

  constructor(
    private readonly url: string,
    private readonly connectionName: string,
    private readonly health: SourceHealth,
    /** Declares what it needs and starts consuming on `ch`; called again after every reconnect. */
    private readonly setup: (ch: amqp.Channel) => Promise<void>,
  ) {}

  /** The live connection, for short-lived channels of the source's own (null while reconnecting). */
  get connection(): amqp.ChannelModel | null {
    return this.conn;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    let conn: amqp.ChannelModel | null = null;
    try {
      conn = await connectAmqp(this.url, this.connectionName);
      conn.on('error', (err) => this.health.error(err));
      conn.on('close', () => this.onClosed());
      const ch = await conn.createChannel();
      ch.on('error', (err) => this.health.error(err));
      // The broker can close the consuming channel and keep the connection (a consumer_timeout,
      // an ack it refused): nothing would come any more, so the whole connection starts again.
      ch.on('close', () => this.lost(conn!));
      this.conn = conn; // the setup may already publish on it (e.g. Celery's enable_events)
      await this.setup(ch);
      this.backoffMs = 500;
      this.health.connected(true);
    } catch (err) {
      this.health.error(err);
      if (conn) {
        this.conn = null;
        await conn.close().catch(() => undefined); // its close event schedules the reconnect
      }
      this.scheduleReconnect();
    }
  }

  /**
   * The consuming channel is gone, or the broker cancelled the consumer (a source's consume
   * callback got null: its queue was deleted): reconnect, which sets everything up again.
   */
  lost(conn: amqp.ChannelModel | null = this.conn): void {
    if (this.stopped || !conn || conn !== this.conn) return;
    this.health.connected(false);
    void conn.close().catch(() => this.onClosed()); // its close event schedules the reconnect
  }

  private onClosed(): void {
    this.conn = null;
    this.health.connected(false);
    if (!this.stopped) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(30000, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.conn?.close().catch(() => undefined);
    this.conn = null;
    this.health.connected(false);
  }
}

/** Acknowledges a message, ignoring a channel that closed meanwhile (the broker redelivers it). */
export function safeAck(ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
  try {
    ch.ack(msg);
  } catch {
    /* channel closed */
  }
}

/** Gives a message back to its queue, for another try (by this consumer or another). */
export function safeRequeue(ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
  try {
    ch.nack(msg, false, true);
  } catch {
    /* channel closed: RabbitMQ requeues what the channel held */
  }
}
