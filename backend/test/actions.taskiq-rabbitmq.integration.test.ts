// The taskiq driver for taskiq-aio-pika against a real taskiq worker on RabbitMQ: purge, retry,
// requeue of the letters RabbitMQ dead-lettered into taskiq's dead-letter queue;
// and terminate through the agent command channel on RabbitMQ (the worker's own command queue,
// read with aio-pika): an async task is cancelled, a sync one cannot be and the command says so;
// cancel of a waiting task, skipped by the worker's agent as it comes out of the broker.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import amqp from 'amqplib';
import { taskiqDriver } from '../src/engines/registry.js';
import { TaskiqRabbitmqDriver } from '../src/engines/taskiq/rabbitmqDriver.js';
import { describeAgentActions } from './helpers/agentActions.js';
import { covers } from './helpers/coverage.js';
import { PythonApp, packageAtLeast, uniqueQueue, type PyProcess } from './helpers/pyapp.js';
import { TASKIQ_AMQP_URL, TASKIQ_REDIS_URL } from './helpers/taskiq.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

const AMQP_URL = TASKIQ_AMQP_URL;
const app = new PythonApp('taskiq', 'taskiq_app', { Z4J_TEST_REDIS: TASKIQ_REDIS_URL, Z4J_TEST_BROKER: AMQP_URL });
const taskiqctl = <T>(queue: string, ...args: string[]) => app.run<T>('taskiqctl.py', args, { Z4J_TEST_QUEUE: queue });

describeAgentActions({
  engine: 'taskiq',
  redisUrl: TASKIQ_REDIS_URL,
  amqp: { url: AMQP_URL, queue: 'z4j.events.test.actions-taskiq' },
  driver: { Z4J_TASKIQ_BROKER_URL: AMQP_URL },
  // One task at a time: a task sent while another runs waits (for cancel).
  startWorker: (queue, env) => app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1', '--max-async-tasks', '1'], { ...env, Z4J_TEST_QUEUE: queue }),
  send: (queue, name, args, kwargs, env) => app.run<string>('taskiqctl.py', ['send', name, JSON.stringify(args), JSON.stringify(kwargs)], { ...env, Z4J_TEST_QUEUE: queue }),
  get: (queue, key) => taskiqctl<string | null>(queue, 'get', key),
  terminate: () => covers('taskiq-rabbitmq', 'task.terminate'),
  cancel: () => covers('taskiq-rabbitmq', 'task.cancel'),
  // taskiq before 0.12.5 fetches the next message while its one runner is busy (docs/engines.md).
  cancelTooLate: packageAtLeast('taskiq', 'taskiq', [0, 12, 5]) ? undefined : /already taken by this worker's taskiq receiver, which will run it/,
  runs: (queue, key) => taskiqctl<number>(queue, 'runs', key),
  unstoppable: { task: 'long_sync', message: /thread pool/ },
});

describe('taskiq driver (taskiq-aio-pika on RabbitMQ)', () => {
  const driver = new TaskiqRabbitmqDriver(AMQP_URL);
  const workers: PyProcess[] = [];
  const created: string[] = [];
  const queue = (what: string) => {
    const q = uniqueQueue(what);
    created.push(q);
    return q;
  };

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of created) await ch.deleteQueue(q).catch(() => undefined);
    await conn.close();
    await driver.close();
  });

  test('the registry picks this driver for an amqp:// broker URL', () => {
    expect(taskiqDriver(AMQP_URL)).toBeInstanceOf(TaskiqRabbitmqDriver);
    expect(taskiqDriver('redis://127.0.0.1:6379/12')).not.toBeInstanceOf(TaskiqRabbitmqDriver);
  });

  test('purge empties exactly the target queue; its messages never run', async () => {
    covers('taskiq-rabbitmq', 'queue.purge');
    const target = queue('tqr_purge');
    const other = queue('tqr_keep');
    const purged = [randomUUID(), randomUUID(), randomUUID()];
    for (const key of purged) await taskiqctl(target, 'kick', key);
    for (let i = 0; i < 2; i++) await taskiqctl(other, 'kick', randomUUID());
    expect(await driver.queueDepth(target)).toBe(3);
    expect((await driver.purgeQueue(target)).purged).toBe(3);
    expect(await driver.queueDepth(target)).toBe(0);
    expect(await driver.queueDepth(other)).toBe(2);
    // A worker on the queue now runs what comes after, never what was purged.
    workers.push(app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], { Z4J_TEST_QUEUE: target }));
    const later = randomUUID();
    await taskiqctl(target, 'kick', later);
    await eventually(async () => expect(await taskiqctl<number>(target, 'runs', later)).toBe(1), 60_000, 500);
    await sleep(500);
    for (const key of purged) expect(await taskiqctl<number>(target, 'runs', key)).toBe(0);
  });

  test('retry publishes the sealed call as a new task that a worker runs; a queue no worker declared is refused', async () => {
    covers('taskiq-rabbitmq', 'task.retry');
    const q = queue('tqr_retry');
    const key = randomUUID();
    const original = { taskId: 'original', name: 'count', queue: q, worker: null, state: 'failed' };
    await expect(driver.retry({ name: 'count', args: [key], kwargs: {}, queue: q }, randomUUID(), original)).rejects.toThrow(/no queue/);
    workers.push(app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], { Z4J_TEST_QUEUE: q }));
    // Refused until the worker has declared its queue; published once it has.
    const newId = randomUUID();
    const sent = await eventually(() => driver.retry({ name: 'count', args: [key], kwargs: {}, queue: q }, newId, original), 60_000, 500);
    expect(sent.detail).toEqual({ newTaskId: newId, queue: q });
    await eventually(async () => expect(await taskiqctl<number>(q, 'runs', key)).toBe(1), 60_000, 500);
  });

  test('a queue or dead-letter queue RabbitMQ does not have is said, never purged or requeued as "0"', async () => {
    const missing = `z4j-test-no-such-queue-${randomUUID()}`;
    await expect(driver.purgeQueue(missing)).rejects.toThrow(`RabbitMQ has no queue ${missing}`);
    expect(await driver.queueDepth(missing)).toBeNull();
    const renamed = new TaskiqRabbitmqDriver(AMQP_URL, `z4j-test-dlq-${randomUUID()}`);
    try {
      await expect(renamed.requeueDeadLetters(queue('tqr_any'))).rejects.toThrow(/Z4J_TASKIQ_DEAD_LETTER_QUEUE/);
    } finally {
      await renamed.close();
    }
  });

  test("dead letters go back from taskiq's shared dead-letter queue to the queue they died in, and run; other queues' letters stay", async () => {
    covers('taskiq-rabbitmq', 'queue.requeue_dead_letters');
    const q = queue('tqr_dlq');
    const other = queue('tqr_dlq_other');
    const keys = [randomUUID(), randomUUID()];
    for (const key of keys) await taskiqctl(q, 'kick', key);
    await taskiqctl(other, 'kick', randomUUID());
    // RabbitMQ dead-letters a rejected message the way it does one past the delivery limit (its
    // worker died running it too often): reject them, before any worker takes them.
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    for (const [name, n] of [[q, 2], [other, 1]] as const) {
      for (let i = 0; i < n; i++) {
        const m = await ch.get(name, { noAck: false });
        if (!m) throw new Error(`nothing in ${name}`);
        ch.nack(m, false, false);
      }
    }
    await ch.close(); // after the nacks are through: a connection closed under them returns the messages
    await conn.close();
    expect([await driver.queueDepth(q), await driver.queueDepth(other)]).toEqual([0, 0]);
    let requeued = 0;
    await eventually(async () => {
      requeued += (await driver.requeueDeadLetters(q)).requeued;
      expect(requeued).toBe(2);
    }, 30_000, 300);
    expect(await driver.queueDepth(q)).toBe(2);
    workers.push(app.start('taskiq', ['worker', 'tasks:broker', '--workers', '1'], { Z4J_TEST_QUEUE: q }));
    for (const key of keys) await eventually(async () => expect(await taskiqctl<number>(q, 'runs', key)).toBe(1), 60_000, 500);
    expect((await driver.requeueDeadLetters(q)).requeued).toBe(0);
    // The other queue's letter stayed where it was, and goes back when its own queue asks.
    expect(await driver.queueDepth(other)).toBe(0);
    expect((await driver.requeueDeadLetters(other)).requeued).toBe(1);
    expect(await driver.queueDepth(other)).toBe(1);
  });
});
