// The Dramatiq driver for the RabbitMQ broker against real Dramatiq workers on RabbitMQ: retry
// from a payload, purge of a queue and its delay queue, requeue of the XQ's dead letters; and
// terminate and cancel through the agent command channel on RabbitMQ (the worker's own command
// queue; a cancelled message is skipped by the worker's agent when it comes).
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import amqp from 'amqplib';
import { DramatiqRabbitmqDriver } from '../src/engines/dramatiq/rabbitmqDriver.js';
import { dramatiqDriver } from '../src/engines/registry.js';
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { DRAMATIQ_AMQP_URL, DRAMATIQ_REDIS_URL, dramatiqAgentApp } from './helpers/dramatiq.js';
import { PythonApp, uniqueQueue, type PyProcess } from './helpers/pyapp.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

const AMQP_URL = DRAMATIQ_AMQP_URL;
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL, Z4J_TEST_BROKER: AMQP_URL });
const dqctl = <T>(queue: string, ...args: string[]) => app.run<T>('dqctl.py', args, { Z4J_TEST_QUEUE: queue });
const startWorker = (queue: string): PyProcess => app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], { Z4J_TEST_QUEUE: queue });

describeAgentActions({
  engine: 'dramatiq',
  redisUrl: DRAMATIQ_REDIS_URL,
  amqp: { url: AMQP_URL, queue: 'z4j.events.test.actions-dramatiq' },
  driver: { Z4J_DRAMATIQ_BROKER_URL: AMQP_URL },
  ...dramatiqAgentApp(app),
  terminate: () => covers('dramatiq-rabbitmq', 'task.terminate'),
  cancel: () => covers('dramatiq-rabbitmq', 'task.cancel'),
  runs: (queue, key) => dqctl<number>(queue, 'runs', key),
  requeue: () => undefined, // covered below; this is the rerun's place in the task's attempts
});

describe('Dramatiq driver (RabbitMQ broker)', () => {
  const driver = new DramatiqRabbitmqDriver(AMQP_URL);
  const workers: PyProcess[] = [];
  let conn: amqp.ChannelModel;
  const runs = (queue: string, key: string) => dqctl<number>(queue, 'runs', key);
  const ref = (taskId: string, queue: string) => ({ taskId, name: null, queue, worker: null, state: 'failed' });
  const depth = async (queue: string) => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // a missing queue closes the channel
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } finally {
      await ch.close().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of created) for (const s of ['', '.DQ', '.XQ']) await ch.deleteQueue(q + s).catch(() => undefined);
    await conn.close();
    await driver.close();
  });
  const created: string[] = [];
  const queue = (what: string) => {
    const q = uniqueQueue(what);
    created.push(q);
    return q;
  };

  test('the registry picks this driver for an amqp:// broker URL', () => {
    expect(dramatiqDriver('amqp://guest:guest@127.0.0.1:5672/%2F')).toBeInstanceOf(DramatiqRabbitmqDriver);
    expect(dramatiqDriver('redis://127.0.0.1:6379/10')).not.toBeInstanceOf(DramatiqRabbitmqDriver);
  });

  test('retry publishes a new message from the payload, and it runs', async () => {
    covers('dramatiq-rabbitmq', 'task.retry');
    const q = queue('dqr_retry');
    workers.push(startWorker(q));
    const key = randomUUID();
    await eventually(async () => expect(await depth(q)).toBe(0), 30_000, 300); // the worker declared its queue
    const d = await driver.retry({ name: 'count', args: [key], kwargs: {}, queue: q, options: { eta: Date.now() + 3_600_000 } }, randomUUID(), ref('original', q));
    expect(d.detail).toMatchObject({ queue: q });
    await eventually(async () => expect(await runs(q, key)).toBe(1), 60_000, 500);
    await expect(driver.retry(null, randomUUID(), ref('original', q))).rejects.toThrow(/no retry payload/);
  });

  test('purge empties the queue and its delay queue, and nothing else', async () => {
    covers('dramatiq-rabbitmq', 'queue.purge');
    const target = queue('dqr_purge');
    const other = queue('dqr_keep');
    for (let i = 0; i < 3; i++) await dqctl(target, 'send', 'count', JSON.stringify([randomUUID()]));
    await dqctl(target, 'send-delayed', 'count', JSON.stringify([randomUUID()]), '3600000');
    for (let i = 0; i < 2; i++) await dqctl(other, 'send', 'count', JSON.stringify([randomUUID()]));
    expect(await driver.queueDepth(target)).toBe(4);
    expect((await driver.purgeQueue(target)).purged).toBe(4);
    expect(await driver.queueDepth(target)).toBe(0);
    expect(await driver.queueDepth(other)).toBe(2);
    expect((await driver.purgeQueue(queue('dqr_never_declared'))).purged).toBe(0);
  });

  test('dead letters are moved back from the XQ and run again', async () => {
    covers('dramatiq-rabbitmq', 'queue.requeue_dead_letters');
    const q = queue('dqr_xq');
    const w = startWorker(q);
    workers.push(w);
    const keys = [randomUUID(), randomUUID()];
    const ids: string[] = [];
    for (const key of keys) ids.push(await dqctl<string>(q, 'send', 'flaky', JSON.stringify([key])));
    await eventually(async () => expect(await depth(`${q}.XQ`)).toBe(2), 60_000, 500);
    // Each rerun is the next attempt (the requeue counted in its options, for the agent).
    const requeued = await driver.requeueDeadLetters(q);
    expect([requeued.requeued, requeued.tasks!.sort((a, b) => a.taskId.localeCompare(b.taskId))]).toEqual([2, ids.sort().map((taskId) => ({ taskId, attempt: 1 }))]);
    for (const key of keys) await eventually(async () => expect(await runs(q, key)).toBe(2), 60_000, 500);
    await sleep(300);
    expect(await depth(`${q}.XQ`)).toBe(0);
    expect((await driver.requeueDeadLetters(q)).requeued).toBe(0);
  });

  test('many dead letters are moved in confirmed rounds, each exactly once', async () => {
    const q = queue('dqr_many');
    const ch = await conn.createConfirmChannel();
    try {
      await ch.assertQueue(q, { durable: true });
      await ch.assertQueue(`${q}.XQ`, { durable: true });
      for (let i = 0; i < 450; i++) {
        const message = { queue_name: q, actor_name: 'flaky', args: [i], kwargs: {}, options: {}, message_id: randomUUID(), message_timestamp: Date.now() };
        ch.sendToQueue(`${q}.XQ`, Buffer.from(JSON.stringify(message)), { persistent: true });
      }
      await ch.waitForConfirms();
    } finally {
      await ch.close();
    }
    expect((await driver.requeueDeadLetters(q)).requeued).toBe(450); // three rounds: 200, 200, 50
    expect([await depth(q), await depth(`${q}.XQ`)]).toEqual([450, 0]);
    // Back with their requeue counted in their options, the rest of each message as it was.
    const ch2 = await conn.createChannel();
    try {
      const back = await ch2.get(q, { noAck: true });
      expect(back && JSON.parse(back.content.toString())).toMatchObject({ actor_name: 'flaky', options: { z4j_requeues: 1 } });
    } finally {
      await ch2.close();
    }
  });
});
