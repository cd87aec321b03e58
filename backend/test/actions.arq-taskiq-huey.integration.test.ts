// The arq, taskiq and Huey drivers against real workers on Redis.
import { randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { jest } from '@jest/globals';
import { ArqDriver } from '../src/engines/arq/driver.js';
import { HueyDriver } from '../src/engines/huey/driver.js';
import { TaskiqDriver } from '../src/engines/taskiq/driver.js';
import { ARQ_REDIS_URL, arqctl, startArqWorker } from './helpers/arq.js';
import { covers } from './helpers/coverage.js';
import { HUEY_REDIS_URL, hueyctl, hueyctlWith, startHueyConsumer } from './helpers/huey.js';
import { uniqueQueue, type PyProcess } from './helpers/pyapp.js';
import { SERIALIZERS, startTaskiqWorker, TASKIQ_REDIS_URL, taskiqctl, taskiqctlWith } from './helpers/taskiq.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

const ref = (taskId: string, queue: string) => ({ taskId, name: null, queue, worker: null, state: 'enqueued' });
const workers: PyProcess[] = [];
// The Huey describes' driver and Redis client, closed at the end of the file (a describe's own
// afterAll is skipped when all its tests are filtered out; neither connects before it is used).
const hueyDriver = new HueyDriver(HUEY_REDIS_URL);
const hueyRedis = new Redis(HUEY_REDIS_URL, { lazyConnect: true });
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await hueyDriver.close();
  hueyRedis.disconnect();
});

describe('arq driver', () => {
  const driver = new ArqDriver(ARQ_REDIS_URL);
  afterAll(() => driver.close());
  type Status = { status: string; success: boolean | null; result: string | null };
  const status = (queue: string, id: string) => arqctl<Status>(queue, 'status', id);
  const completed = (queue: string, id: string) => eventually(async () => {
    const s = await status(queue, id);
    if (s.status !== 'complete') throw new Error(`job ${id} is ${s.status}`);
    return s;
  }, 60_000, 300);

  test('a deferred job is cancelled and never runs', async () => {
    covers('arq', 'task.cancel');
    const queue = uniqueQueue('arq_cancel');
    workers.push(startArqWorker(queue));
    const key = randomUUID();
    const id = await arqctl<string>(queue, 'enqueue', 'count', JSON.stringify([key]), '30');
    expect(await driver.cancel(ref(id, queue))).toEqual({ detail: { stillQueued: true } });
    const s = await completed(queue, id);
    expect(s.success).toBe(false);
    expect(s.result).toMatch(/CancelledError/);
    expect(await arqctl<number>(queue, 'runs', key)).toBe(0);
  });

  test('a running job is aborted', async () => {
    covers('arq', 'task.terminate');
    const queue = uniqueQueue('arq_term');
    workers.push(startArqWorker(queue));
    const id = await arqctl<string>(queue, 'enqueue', 'sleep', JSON.stringify([60]));
    await eventually(async () => expect((await status(queue, id)).status).toBe('in_progress'), 60_000, 300);
    const t0 = Date.now();
    // No "still queued": arq keeps a running job's id in its queue, which would read as not started.
    expect(await driver.terminate(ref(id, queue))).toEqual({});
    expect((await completed(queue, id)).result).toMatch(/CancelledError/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  test('purge empties exactly the target queue', async () => {
    covers('arq', 'queue.purge');
    const target = uniqueQueue('arq_purge');
    const other = uniqueQueue('arq_keep');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await arqctl<string>(target, 'enqueue', 'count', JSON.stringify([randomUUID()]), '600'));
    for (let i = 0; i < 2; i++) await arqctl<string>(other, 'enqueue', 'count', JSON.stringify([randomUUID()]), '600');
    const purged = await driver.purgeQueue(target);
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, ids.sort()]);
    expect(await driver.queueDepth(target)).toBe(0);
    expect(await driver.queueDepth(other)).toBe(2);
    expect((await status(target, ids[0]!)).status).toBe('not_found');
  });

  test('purge leaves a job in progress in its queue (arq runs it again from there after a Retry or a dead worker)', async () => {
    const queue = uniqueQueue('arq_purge_running');
    workers.push(startArqWorker(queue));
    const running = await arqctl<string>(queue, 'enqueue', 'sleep', JSON.stringify([3]));
    await eventually(async () => expect((await status(queue, running)).status).toBe('in_progress'), 60_000, 200);
    const deferred = await arqctl<string>(queue, 'enqueue', 'count', JSON.stringify([randomUUID()]), '600');
    expect(await driver.purgeQueue(queue)).toEqual({ purged: 1, taskIds: [deferred] });
    expect(await driver.queueDepth(queue)).toBe(1); // the running one, still arq's
    expect((await completed(queue, running)).success).toBe(true);
  });
});

describe('taskiq driver (taskiq-redis ListQueueBroker)', () => {
  const driver = new TaskiqDriver(TASKIQ_REDIS_URL);
  afterAll(() => driver.close());
  const runs = (queue: string, key: string) => taskiqctl<number>(queue, 'runs', key);

  test("a queue of taskiq-redis's other brokers (a stream, a pub/sub channel) is refused, never written to", async () => {
    const redis = new Redis(TASKIQ_REDIS_URL);
    const listener = new Redis(TASKIQ_REDIS_URL);
    const [stream, channel] = [`z4j-test-stream-${randomUUID()}`, `z4j-test-pubsub-${randomUUID()}`];
    const payload = { name: 'app.noop', args: [], kwargs: {}, queue: stream };
    try {
      await redis.xadd(stream, '*', 'data', '{}');
      await expect(driver.retry(payload, randomUUID(), { taskId: 't', name: null, queue: stream, worker: null, state: 'failed' })).rejects.toThrow(/Redis stream \(taskiq-redis RedisStreamBroker\)/);
      await expect(driver.purgeQueue(stream)).rejects.toThrow(/ListQueueBroker queues only/);
      expect(await driver.queueDepth(stream)).toBeNull();

      await listener.subscribe(channel); // what a PubSubBroker worker does
      await expect(driver.retry({ ...payload, queue: channel }, randomUUID(), { taskId: 't', name: null, queue: channel, worker: null, state: 'failed' })).rejects.toThrow(/PubSubBroker/);
      await expect(driver.cancel({ taskId: 't', name: null, queue: channel, worker: null, state: 'enqueued' })).rejects.toThrow(/PubSubBroker/);
      expect(await redis.exists(channel)).toBe(0); // no list nobody reads
      expect(await driver.queueDepth(channel)).toBeNull();
    } finally {
      await redis.del(stream, channel);
      listener.disconnect();
      redis.disconnect();
    }
  });

  test('a cancelled waiting message never runs', async () => {
    covers('taskiq', 'task.cancel');
    const queue = uniqueQueue('tq_cancel');
    const key = randomUUID();
    const id = await taskiqctl<string>(queue, 'kick', key);
    await taskiqctl<string>(queue, 'kick', `${key}-kept`);
    const r = await driver.cancel(ref(id, queue));
    expect(r.confirmed).toBe(true);
    expect(await driver.queueDepth(queue)).toBe(1);
    workers.push(startTaskiqWorker(queue));
    await eventually(async () => expect(await runs(queue, `${key}-kept`)).toBe(1), 60_000, 500);
    await sleep(500);
    expect(await runs(queue, key)).toBe(0);
    await expect(driver.cancel(ref(id, queue))).rejects.toThrow(/no longer waiting/);
  });

  test('a cancel reads a long list page by page and takes out exactly its message, however deep', async () => {
    const queue = uniqueQueue('tq_cancel_deep');
    const redis = new Redis(TASKIQ_REDIS_URL);
    const message = (id: string) => JSON.stringify({ task_id: id, task_name: 'count', labels: {}, args: [id], kwargs: {} });
    try {
      // LPUSH puts the first at the far end: the one a worker takes next, read last from the producer end.
      await redis.lpush(queue, message('deep'), ...Array.from({ length: 4_500 }, (_, i) => message(`m${i}`)));
      expect(await driver.cancel(ref('deep', queue))).toEqual({ confirmed: true });
      expect(await redis.llen(queue)).toBe(4_500);
      expect(await redis.lindex(queue, -1)).toBe(message('m0'));
      await expect(driver.cancel(ref('deep', queue))).rejects.toThrow(/no longer waiting/);
    } finally {
      await redis.del(queue);
      redis.disconnect();
    }
  });

  test('retry sends a new message built from the payload, and it runs', async () => {
    covers('taskiq', 'task.retry');
    const queue = uniqueQueue('tq_retry');
    workers.push(startTaskiqWorker(queue));
    const key = randomUUID();
    await driver.retry({ name: 'count', args: [key], kwargs: {}, queue }, randomUUID(), ref('original', queue));
    await eventually(async () => expect(await runs(queue, key)).toBe(1), 60_000, 500);
  });

  test('purge empties exactly the target queue', async () => {
    covers('taskiq', 'queue.purge');
    const target = uniqueQueue('tq_purge');
    const other = uniqueQueue('tq_keep');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await taskiqctl<string>(target, 'kick', randomUUID()));
    for (let i = 0; i < 2; i++) await taskiqctl(other, 'kick', randomUUID());
    const purged = await driver.purgeQueue(target);
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, ids.sort()]);
    expect(await driver.queueDepth(target)).toBe(0);
    expect(await driver.queueDepth(other)).toBe(2);
  });

  test('a filtered purge removes only the matching messages; the others still run', async () => {
    covers('taskiq', 'queue.purge_filtered');
    const queue = uniqueQueue('tq_purge_f');
    const matching = [randomUUID(), randomUUID()];
    const kept = [randomUUID(), randomUUID()];
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push(await taskiqctl<string>(queue, 'kick', matching[i]!));
      await taskiqctl(queue, 'send', 'retried', JSON.stringify([kept[i]]), '{}');
    }
    expect(await driver.countMatching(queue, { name: 'count' })).toEqual({ matched: 2, scanned: 4, complete: true, unreadable: 0 });
    const purged = await driver.purgeMatching(queue, { name: 'count' });
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([2, ids.sort()]);
    expect(await driver.queueDepth(queue)).toBe(2);
    const w = startTaskiqWorker(queue);
    workers.push(w);
    for (const key of kept) await eventually(async () => expect(Number(await taskiqctl<string | null>(queue, 'get', `z4j-test-taskiq-retried:${key}`))).toBeGreaterThanOrEqual(1), 60_000, 500);
    await sleep(500);
    for (const key of matching) expect(await runs(queue, key)).toBe(0);
  });
});

describe.each(SERIALIZERS)('taskiq driver, a broker with $name', ({ env, firstByte }) => {
  const driver = new TaskiqDriver(TASKIQ_REDIS_URL);
  afterAll(() => driver.close());
  const runs = (queue: string, key: string) => taskiqctl<number>(queue, 'runs', key);
  const serializedTaskiqctl = taskiqctlWith(env);

  test('its message is found by its id and cancelled, and counted and purged by its name (a pickle without unpickling it); the rest still run', async () => {
    const queue = uniqueQueue(`tq_${env.Z4J_TEST_SERIALIZER}`);
    const [cancelled, purged, kept] = [randomUUID(), randomUUID(), randomUUID()];
    const id = await serializedTaskiqctl<string>(queue, 'kick', cancelled);
    await serializedTaskiqctl(queue, 'kick', purged);
    await serializedTaskiqctl(queue, 'send', 'retried', JSON.stringify([kept]), '{}');
    const redis = new Redis(TASKIQ_REDIS_URL);
    try {
      expect((await redis.lindexBuffer(queue, 0))?.[0]).toBe(firstByte); // written by that serializer, not as JSON
    } finally {
      redis.disconnect();
    }
    expect(await driver.cancel(ref(id, queue))).toEqual({ confirmed: true });
    expect(await driver.countMatching(queue, { name: 'count' })).toEqual({ matched: 1, scanned: 2, complete: true, unreadable: 0 });
    expect((await driver.purgeMatching(queue, { name: 'count' })).purged).toBe(1);
    workers.push(startTaskiqWorker(queue, env));
    await eventually(async () => expect(Number(await taskiqctl<string | null>(queue, 'get', `z4j-test-taskiq-retried:${kept}`))).toBeGreaterThanOrEqual(1), 60_000, 500);
    await sleep(500);
    expect([await runs(queue, cancelled), await runs(queue, purged)]).toEqual([0, 0]);
  });
});

describe('taskiq driver, a broker with a serializer of its own', () => {
  const driver = new TaskiqDriver(TASKIQ_REDIS_URL);
  afterAll(() => driver.close());

  test('messages z4j cannot read (a serializer of its own) are counted and kept; a cancel not among the others asks the agents, and says why when it cannot', async () => {
    const queue = uniqueQueue('tq_unreadable');
    const redis = new Redis(TASKIQ_REDIS_URL);
    try {
      const own = deflateSync(JSON.stringify({ task_id: 'k', task_name: 'count', labels: {}, args: [], kwargs: {} })); // e.g. JSON, compressed
      await redis.lpush(queue, own, JSON.stringify({ task_id: 'j', task_name: 'count', labels: {}, args: [], kwargs: {} }));
      expect(await driver.countMatching(queue, { name: 'count' })).toEqual({ matched: 1, scanned: 2, complete: true, unreadable: 1 });
      await expect(driver.cancel(ref('not-readable-here', queue))).rejects.toThrow(
        `z4j cannot read 1 of the messages waiting in ${queue} (a serializer that is not taskiq's own), so the workers' agents were asked to skip it: taskiq needs the z4j agent command channel for this`,
      );
      const asked: unknown[] = [];
      const agent = { send: async () => ({ worker: 'w' }), sendToAll: async (...args: unknown[]) => (asked.push(args), { workers: ['w1'], notReached: [] }) };
      expect(await driver.cancel(ref('not-readable-here', queue), agent)).toEqual({ awaitsAgent: true, detail: { workers: ['w1'] } });
      expect(asked).toEqual([['cancel', { taskId: 'not-readable-here', forgetAfterS: 86_400 }, queue]]);
      expect(await driver.purgeMatching(queue, { name: 'count' })).toEqual({ purged: 1, taskIds: ['j'] });
      expect(await redis.lrangeBuffer(queue, 0, -1)).toEqual([own]);
      await expect(driver.cancel(ref('j', queue))).rejects.toThrow(/z4j cannot read 1 of the messages/); // the readable one is gone
    } finally {
      await redis.del(queue);
      redis.disconnect();
    }
  });
});

describe('Huey driver (RedisHuey)', () => {
  const runs = (queue: string, key: string) => hueyctl<number>(queue, 'runs', key);

  test('a revoked queued task is skipped by the consumer', async () => {
    covers('huey', 'task.cancel');
    const queue = uniqueQueue('huey_cancel');
    const key = randomUUID();
    const id = await hueyctl<string>(queue, 'enqueue', key);
    await hueyctl<string>(queue, 'enqueue', `${key}-kept`);
    await hueyDriver.cancel(ref(id, queue));
    workers.push(startHueyConsumer(queue));
    await eventually(async () => expect(await runs(queue, `${key}-kept`)).toBe(1), 60_000, 500);
    await sleep(500);
    expect(await runs(queue, key)).toBe(0);
    // Revoked once: the consumer deleted the revocation as it skipped the task (none piles up).
    expect(await hueyRedis.hexists(`huey.results.${queue}`, `r:${id}`)).toBe(0);
  });

  test('purge empties exactly the target queue', async () => {
    covers('huey', 'queue.purge');
    const target = uniqueQueue('huey_purge');
    const other = uniqueQueue('huey_keep');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await hueyctl<string>(target, 'enqueue', randomUUID()));
    for (let i = 0; i < 2; i++) await hueyctl(other, 'enqueue', randomUUID());
    const purged = await hueyDriver.purgeQueue(target);
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, ids.sort()]);
    // The queue was moved aside, read and deleted: nothing of it is left in Redis.
    expect(await hueyRedis.keys(`huey.redis.${target}*`)).toEqual([]);
    expect(await hueyDriver.queueDepth(target)).toBe(0);
    expect(await hueyDriver.queueDepth(other)).toBe(2);
  });

  test('a filtered purge removes only the matching tasks; the others still run', async () => {
    covers('huey', 'queue.purge_filtered');
    const queue = uniqueQueue('huey_purge_f');
    const matching = [randomUUID(), randomUUID()];
    const kept = [randomUUID(), randomUUID()];
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push(await hueyctl<string>(queue, 'enqueue', matching[i]!));
      await hueyctl(queue, 'send', 'fail_once', JSON.stringify([kept[i]]), '{}');
    }
    expect(await hueyDriver.countMatching(queue, { name: 'tasks.count' })).toEqual({ matched: 2, scanned: 4, complete: true, unreadable: 0 });
    const purged = await hueyDriver.purgeMatching(queue, { name: 'tasks.count' });
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([2, ids.sort()]);
    expect(await hueyDriver.queueDepth(queue)).toBe(2);
    workers.push(startHueyConsumer(queue));
    for (const key of kept) await eventually(async () => expect(await hueyctl<string | null>(queue, 'get', `z4j-test-fail-once:${key}`)).toBe('1'), 60_000, 500);
    await sleep(500);
    for (const key of matching) expect(await runs(queue, key)).toBe(0);
  });
});

describe('Huey driver, the other Redis storages', () => {

  test('a priority queue (PriorityRedisHuey, a sorted set) is counted and purged whole; a purge by name says it cannot', async () => {
    const queue = uniqueQueue('huey_prio');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await hueyctlWith<string>('priority', queue, 'enqueue', randomUUID()));
    expect(await hueyDriver.queueDepth(queue)).toBe(3);
    await expect(hueyDriver.countMatching(queue, { name: 'tasks.count' })).rejects.toThrow(/priority queue \(PriorityRedisHuey\)/);
    const purged = await hueyDriver.purgeQueue(queue);
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, ids.sort()]);
    expect(await hueyDriver.queueDepth(queue)).toBe(0);
  });

  test('a revoked queued task is skipped by a RedisExpireHuey consumer (revokes kept as keys of their own)', async () => {
    const queue = uniqueQueue('huey_expire');
    const key = randomUUID();
    const runs = (k: string) => hueyctlWith<number>('expire', queue, 'runs', k);
    const id = await hueyctlWith<string>('expire', queue, 'enqueue', key);
    await hueyctlWith<string>('expire', queue, 'enqueue', `${key}-kept`);
    await hueyDriver.cancel(ref(id, queue));
    workers.push(startHueyConsumer(queue, 'expire'));
    await eventually(async () => expect(await runs(`${key}-kept`)).toBe(1), 60_000, 500);
    await sleep(500);
    expect(await runs(key)).toBe(0);
    expect(await hueyRedis.exists(`huey.r.${queue}.r:${id}`)).toBe(0); // revoked once: deleted as the task was skipped
  });
});
