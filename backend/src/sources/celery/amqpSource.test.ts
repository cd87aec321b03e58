// z4j's own RabbitMQ queue of Celery events, on a real RabbitMQ: bounded when z4j creates it,
// used as it is when it exists (RabbitMQ refuses to redeclare a queue with other arguments).
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { pino } from 'pino';
import type { IngestPipeline } from '../../ingest/pipeline.js';
import { createMetrics } from '../../metrics.js';
import { AMQP_URL } from '../../../test/helpers/celery.js';
import { CeleryAmqpSource } from './amqpSource.js';

const log = pino({ level: 'silent' });
const EVENT = Buffer.alloc(1000, 'x'); // the body of an event message, 1,000 bytes

describe("z4j's RabbitMQ queue of Celery events", () => {
  let conn: amqp.ChannelModel;
  let ch: amqp.ConfirmChannel;
  const made: { queue: string; exchanges: string[] }[] = [];

  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL).catch((err) => {
      throw new Error(`RabbitMQ is not reachable at ${AMQP_URL} (${err}); start it with \`bash scripts/services.sh start\``);
    });
    ch = await conn.createConfirmChannel(); // a publish is confirmed once the queue holds it
  });

  afterAll(async () => {
    for (const { queue, exchanges } of made) {
      await ch.deleteQueue(queue);
      for (const exchange of exchanges) await ch.deleteExchange(exchange);
    }
    await conn?.close();
  });

  /** A source on names of its own, and a way to publish events to its exchange while it is away. */
  function isolated(maxQueueBytes: number) {
    const id = randomBytes(4).toString('hex');
    const names = { queue: `z4j-test-q-${id}`, eventExchange: `z4j-test-ev-${id}`, controlExchange: `z4j-test-ctl-${id}` };
    made.push({ queue: names.queue, exchanges: [names.eventExchange, `${names.controlExchange}.pidbox`] });
    // No message reaches the pipeline: each test publishes only while the source is stopped.
    const source = new CeleryAmqpSource({ url: AMQP_URL, ...names, maxQueueBytes, enableEventsIntervalS: 0 }, { pipeline: {} as IngestPipeline, project: 'default' }, createMetrics(), log);
    const publish = async (n: number) => {
      for (let i = 0; i < n; i++) ch.publish(names.eventExchange, 'task.succeeded', EVENT);
      await ch.waitForConfirms();
    };
    return { source, publish, queue: names.queue };
  }

  it('keeps at most its bound of bytes while nobody reads it, the oldest dropped first', async () => {
    const { source, publish, queue } = isolated(10_000);
    await source.start();
    expect((await ch.checkQueue(queue)).consumerCount).toBe(1);
    await source.stop();
    await publish(100);
    expect((await ch.checkQueue(queue)).messageCount).toBe(10);
  });

  it('consumes again after the broker cancels its consumer (its queue deleted under it)', async () => {
    const { source, queue } = isolated(10_000);
    await source.start();
    try {
      expect((await ch.checkQueue(queue)).consumerCount).toBe(1);
      await ch.deleteQueue(queue);
      // Checked on channels of their own: a check of a missing queue closes its channel.
      const consumersOf = async () => {
        const probe = await conn.createChannel();
        probe.on('error', () => undefined);
        try {
          return (await probe.checkQueue(queue)).consumerCount;
        } catch {
          return 0;
        } finally {
          await probe.close().catch(() => undefined);
        }
      };
      let consumers = 0;
      for (let i = 0; i < 100 && consumers !== 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        consumers = await consumersOf();
      }
      expect(consumers).toBe(1); // the source set itself up again: queue, binding, consumer
    } finally {
      await source.stop();
    }
  });

  it('uses a queue that exists as it is, whatever its arguments', async () => {
    const { source, publish, queue } = isolated(10_000);
    await ch.assertQueue(queue, { durable: true }); // an earlier z4j's: no bound
    await source.start();
    expect((await ch.checkQueue(queue)).consumerCount).toBe(1); // consuming, not refused
    expect(source.status().connected).toBe(true);
    await source.stop();
    await publish(30);
    expect((await ch.checkQueue(queue)).messageCount).toBe(30);
  });
});
