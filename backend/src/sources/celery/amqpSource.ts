// Celery events over RabbitMQ: our own durable queue bound to the event exchange with '#'
// (not Celery's auto-delete 5-second-TTL receiver queues), consumed with manual acks sent
// only after the events are committed. A pause of the service loses nothing; replicas share
// the queue as competing consumers; prefetch plus the pipeline's bound give backpressure. The
// queue itself is bounded in bytes (oldest dropped first): a z4j removed without deleting it
// must not fill the broker the user's Celery depends on.
import { randomUUID } from 'node:crypto';
import type amqp from 'amqplib';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { ensureOwnQueue } from '../../amqp.js';
import { AmqpConsumer, safeAck } from '../amqpConsumer.js';
import { SourceHealth, type Source, type SourceStatus } from '../source.js';
import { candidatesOf, type CeleryTarget } from './celeryIngest.js';
import { decodeAmqpMessage } from './kombu.js';
import type { CeleryTaskMessage } from '../../engines/celery/taskMessage.js';
import type { Purged } from '../../engines/driver.js';
import type { CeleryBroker } from './broker.js';
import { allAnswered, broadcastBody, broadcastHeaders, replyExchange, requestBody, type PidboxReply } from './pidbox.js';

export interface CeleryAmqpOptions {
  url: string;
  /** What metrics and logs call it (nameSources); default celery-amqp-1. */
  name?: string;
  eventExchange: string;
  controlExchange: string;
  queue: string;
  /** x-max-length-bytes of the queue when z4j creates it; 0 or unset: no bound. */
  maxQueueBytes?: number;
  enableEventsIntervalS: number;
  prefetch?: number;
}

export class CeleryAmqpSource implements Source, CeleryBroker {
  readonly name: string;
  private timer: NodeJS.Timeout | null = null;
  private readonly health: SourceHealth;
  private readonly consumer: AmqpConsumer;

  constructor(
    private readonly opts: CeleryAmqpOptions,
    private readonly target: Omit<CeleryTarget, 'source'>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.name = opts.name ?? 'celery-amqp-1';
    this.health = new SourceHealth(this.name, opts.url, metrics, log);
    this.consumer = new AmqpConsumer(opts.url, 'z4j-celery-events', this.health, async (ch) => {
      // Declared exactly as kombu declares it, so Celery and z4j can both assert it.
      await ch.assertExchange(opts.eventExchange, 'topic', { durable: true, autoDelete: false });
      await ensureOwnQueue(this.conn!, ch, opts.queue, opts.maxQueueBytes ?? 0);
      await ch.bindQueue(opts.queue, opts.eventExchange, '#');
      await ch.prefetch(opts.prefetch ?? 500);
      await ch.consume(opts.queue, (msg) => (msg ? this.onMessage(ch, msg) : this.consumer.lost()), { noAck: false });
      void this.enableEvents();
    });
  }

  private get conn(): amqp.ChannelModel | null {
    return this.consumer.connection;
  }

  async start(): Promise<void> {
    await this.consumer.start();
    if (this.opts.enableEventsIntervalS > 0) {
      this.timer = setInterval(() => void this.enableEvents(), this.opts.enableEventsIntervalS * 1000);
      this.timer.unref();
    }
  }

  private onMessage(ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
    this.health.message();
    const target: CeleryTarget = { ...this.target, source: this.name };
    const candidates = candidatesOf(target, () => decodeAmqpMessage(msg.content, msg.properties.contentType));
    // Ack once every event of the message is committed (or set aside as invalid).
    // After a reconnect the old channel is gone: the broker redelivers, so a failed ack is harmless.
    const ack = () => safeAck(ch, msg);
    let pending = candidates.length;
    const ackWhenDone = () => {
      if (--pending === 0) ack();
    };
    if (pending === 0) {
      ack();
      return;
    }
    void this.target.pipeline.offerAll(this.name, candidates, ackWhenDone);
  }

  async enableEvents(): Promise<void> {
    await this.broadcast('enable_events').catch((err) => this.log.warn({ source: this.name, err: String(err) }, 'enable_events broadcast failed'));
  }

  async broadcast(method: string, args: Record<string, unknown> = {}, destination: string[] | null = null): Promise<void> {
    if (!this.conn) return;
    await this.withChannel(async (ch) => {
      const exchange = `${this.opts.controlExchange}.pidbox`;
      await ch.assertExchange(exchange, 'fanout', { durable: false, autoDelete: false });
      ch.publish(exchange, '', Buffer.from(JSON.stringify(broadcastBody(method, args, destination))), {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers: broadcastHeaders(10),
        deliveryMode: 1,
      });
      await ch.waitForConfirms();
    });
  }

  /**
   * A request with an exclusive reply queue of its own, bound to kombu's reply exchange (declared
   * as kombu declares it) with the ticket as routing key; gone with the channel.
   */
  async request(method: string, args: Record<string, unknown>, destination: string[] | null, timeoutMs: number, awaited = destination ?? []): Promise<PidboxReply[]> {
    const ticket = randomUUID();
    const exchange = replyExchange(this.opts.controlExchange);
    return this.withChannel(async (ch) => {
      const replies: PidboxReply[] = [];
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => { done = resolve; });
      const timer = setTimeout(() => done(), timeoutMs);
      try {
        await ch.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
        const { queue } = await ch.assertQueue(`${ticket}.${exchange}`, { exclusive: true, autoDelete: true, durable: false, expires: Math.max(timeoutMs * 2, 10_000) });
        await ch.bindQueue(queue, exchange, ticket);
        await ch.consume(queue, (msg) => {
          if (!msg || msg.properties.headers?.ticket !== ticket) return;
          const reply = decodeAmqpMessage(msg.content, msg.properties.contentType);
          if (reply && typeof reply === 'object') replies.push(reply as PidboxReply);
          if (allAnswered(replies, awaited)) done();
        }, { noAck: true });
        const pidbox = `${this.opts.controlExchange}.pidbox`;
        await ch.assertExchange(pidbox, 'fanout', { durable: false, autoDelete: false });
        ch.publish(pidbox, '', Buffer.from(JSON.stringify(requestBody(method, args, destination, ticket, this.opts.controlExchange))), {
          contentType: 'application/json',
          contentEncoding: 'utf-8',
          headers: broadcastHeaders(timeoutMs / 1000),
          deliveryMode: 1,
        });
        await ch.waitForConfirms();
        if (allAnswered(replies, awaited)) done(); // nobody awaited
        await finished;
        return replies;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** A short-lived channel of its own: a failed declare or check closes the channel it happens on. */
  private async withChannel<T>(fn: (ch: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
    if (!this.conn) throw new Error(`${this.name} is not connected`);
    const ch = await this.conn.createConfirmChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async publishTask(queue: string, message: CeleryTaskMessage): Promise<void> {
    await this.withChannel(async (ch) => {
      await ch.checkQueue(queue); // never create a queue no worker consumes: the task would sit there unseen
      ch.publish('', queue, message.content.bytes, {
        contentType: message.content.type,
        contentEncoding: message.content.encoding,
        headers: message.headers,
        correlationId: message.correlationId,
        priority: message.priority,
        deliveryMode: 2,
      });
      await ch.waitForConfirms();
    });
  }

  /** RabbitMQ says only how many it removed. */
  async purgeQueue(queue: string): Promise<Purged> {
    return this.withChannel(async (ch) => ({ purged: (await ch.purgeQueue(queue)).messageCount }));
  }

  async queueDepth(queue: string): Promise<number | null> {
    if (!this.conn) return null;
    // A missing queue (yet) has no depth to report.
    return this.withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount).catch(() => null);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer.stop();
  }

  status(): SourceStatus {
    return this.health.status();
  }
}
