// Agent batches from RabbitMQ (docs/agent-protocol.md): the durable queue `z4j.events`, body =
// the signed batch, headers `z4j-agent` and `z4j-sig`. Competing consumers share the queue; a
// message is acknowledged once its events are committed, and a refused one is acknowledged too
// (a bad signature does not improve by being redelivered), counted by reason.
import type amqp from 'amqplib';
import type { AgentKeyStore } from '../../ingest/agentKeys.js';
import { verifyAgentBatch } from '../../ingest/agentBatch.js';
import type { AgentIngest } from '../../ingest/agentIngest.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { ensureOwnQueue } from '../../amqp.js';
import { AmqpConsumer, safeAck, safeRequeue } from '../amqpConsumer.js';
import { SourceHealth, type Source, type SourceStatus } from '../source.js';

export interface AgentAmqpOptions {
  url: string;
  /** What metrics and logs call it (nameSources); default agent-amqp-1. */
  name?: string;
  queue: string;
  /** x-max-length-bytes of the queue when the service creates it (agents create it alike); 0 or unset: no bound. */
  maxQueueBytes?: number;
}

/**
 * Messages RabbitMQ delivers ahead of their acknowledgement. They wait as bytes; how many are
 * parsed and stored at once is AgentIngest.budget's (typical batches are 100–300 KB).
 */
const PREFETCH = 128;

/** How long a message that failed waits before it goes back to the queue: a database outage is not retried in a tight loop. */
const REQUEUE_PAUSE_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class AgentAmqpSource implements Source {
  readonly name: string;
  private readonly health: SourceHealth;
  private readonly consumer: AmqpConsumer;

  constructor(
    opts: AgentAmqpOptions,
    private readonly keys: AgentKeyStore,
    private readonly ingest: AgentIngest,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.name = opts.name ?? 'agent-amqp-1';
    this.health = new SourceHealth(this.name, opts.url, metrics, log);
    this.consumer = new AmqpConsumer(opts.url, 'z4j-agent-events', this.health, async (ch) => {
      await ensureOwnQueue(this.consumer.connection!, ch, opts.queue, opts.maxQueueBytes ?? 0);
      await ch.prefetch(PREFETCH);
      await ch.consume(opts.queue, (msg) => (msg ? void this.handle(ch, msg) : this.consumer.lost()), { noAck: false });
    });
  }

  async start(): Promise<void> {
    await this.consumer.start();
  }

  private async handle(ch: amqp.Channel, msg: amqp.ConsumeMessage): Promise<void> {
    this.health.message();
    const header = (name: string) => {
      const v = msg.properties.headers?.[name];
      return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : '';
    };
    const bytes = msg.content.length;
    await this.ingest.budget.take(bytes);
    try {
      const verified = await verifyAgentBatch(msg.content, header('z4j-agent'), header('z4j-sig'), this.keys);
      let outcome: string;
      if (!verified.ok) {
        outcome = `refused_${verified.reason}`;
        this.log.warn({ source: this.name, reason: verified.reason, detail: verified.detail }, 'agent batch refused');
      } else {
        this.ingest.budget.learn(bytes, verified.batch.events.length);
        const stored = await this.ingest.store(verified.batch, 'amqp', this.name);
        outcome = stored.outcome;
        if (stored.detail) this.log.warn({ source: this.name, outcome, detail: stored.detail }, 'agent batch refused');
      }
      safeAck(ch, msg);
      this.metrics.agentBatches.inc({ transport: 'amqp', outcome });
    } catch (err) {
      // A failure that may pass (the database away): the message goes back to the queue after a
      // pause, for another try. Held unacknowledged instead, a prefetch window of them would stop
      // the consumer for good.
      this.health.error(err);
      await sleep(REQUEUE_PAUSE_MS);
      safeRequeue(ch, msg);
    } finally {
      this.ingest.budget.release(bytes);
    }
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
  }

  status(): SourceStatus {
    return this.health.status();
  }
}
