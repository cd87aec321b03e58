// The RQ driver against real RQ workers: cancel, terminate, retry from RQ's own copy of the
// job, purge, requeue of failed jobs, and worker shutdown.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { RqDriver } from '../src/engines/rq/driver.js';
import { covers } from './helpers/coverage.js';
import { packageAtLeast } from './helpers/pyapp.js';
import { enqueue, enqueueLimited, jobOf, RQ_REDIS_URL, rqctl, startRqWorker, uniqueQueue, type RqWorker } from './helpers/rq.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

const ref = (taskId: string) => ({ taskId, name: null, queue: null, worker: null, state: 'failed' });
const statusOf = async (id: string, ...want: string[]) => eventually(async () => {
  const job = await jobOf(id);
  if (!job || !want.includes(job.status)) throw new Error(`job ${id} is ${job?.status ?? 'gone'}, waiting for ${want.join('/')}`);
  return job;
}, 60_000, 300);

describe('RQ driver', () => {
  const driver = new RqDriver(RQ_REDIS_URL);
  const workers: RqWorker[] = [];
  const worker = (...queues: string[]) => {
    const w = startRqWorker(queues);
    workers.push(w);
    return w;
  };

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await driver.close();
  });

  test('a cancelled queued job never runs', async () => {
    covers('rq', 'task.cancel');
    const queue = uniqueQueue('cancel');
    const key = randomUUID();
    const id = await enqueue(queue, 'count', [key]);
    await driver.cancel(ref(id));
    expect((await jobOf(id))?.status).toBe('canceled');
    expect(await driver.queueDepth(queue)).toBe(0);
    const w = worker(queue);
    await sleep(3000); // a worker on the queue now would have run it
    expect(await rqctl<number>('runs', key)).toBe(0);
    await w.stop();
    await expect(driver.cancel(ref(id))).rejects.toThrow(/the job is canceled/);
  });

  test('a queued job a worker has just popped is not reported cancelled: it is about to run', async () => {
    const queue = uniqueQueue('cancel-race');
    const id = await enqueue(queue, 'count', [randomUUID()]);
    // What RQ's dequeue does (BLMOVE to the intermediate list) before the job is marked started.
    const redis = new Redis(RQ_REDIS_URL);
    try {
      await redis.lmove(`rq:queue:${queue}`, `rq:queue:${queue}:intermediate`, 'LEFT', 'RIGHT');
      await expect(driver.cancel(ref(id))).rejects.toThrow(/just taken the job .* terminate it instead/);
      expect((await jobOf(id))?.status).toBe('queued');
      expect(await redis.zscore(`rq:canceled:${queue}`, id)).toBeNull();
    } finally {
      await redis.del(`rq:queue:${queue}:intermediate`, `rq:job:${id}`);
      redis.disconnect();
    }
  });

  test('a running job is stopped', async () => {
    covers('rq', 'task.terminate');
    const queue = uniqueQueue('term');
    worker(queue);
    const id = await enqueue(queue, 'sleep', [60]);
    await statusOf(id, 'started');
    const started = Date.now();
    await driver.terminate(ref(id));
    await statusOf(id, 'stopped', 'failed');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('retry runs a new job with the exact original call', async () => {
    covers('rq', 'task.retry');
    const queue = uniqueQueue('retry');
    worker(queue);
    const id = await enqueue(queue, 'flaky', [randomUUID(), 'hunter2-secret']);
    await statusOf(id, 'failed');
    const newId = randomUUID();
    const d = await driver.retry(null, newId, ref(id));
    expect(d.detail).toMatchObject({ newTaskId: newId, queue });
    const rerun = await statusOf(newId, 'finished');
    expect(rerun.result).toBe('ok after 2 attempts');
    expect((await jobOf(id))?.status).toBe('failed'); // the original stays as it was
    await expect(driver.retry(null, randomUUID(), ref('no-such-job'))).rejects.toThrow(/^RQ no longer keeps job no-such-job, so its exact call is gone: RQ deletes a finished job after its result_ttl/);
  });

  test('purge empties exactly the target queue', async () => {
    covers('rq', 'queue.purge');
    const target = uniqueQueue('purge');
    const other = uniqueQueue('keep');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueue(target, 'add', [i, i]));
    for (let i = 0; i < 2; i++) await enqueue(other, 'add', [i, i]);
    const purged = await driver.purgeQueue(target);
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, ids.sort()]);
    expect(await driver.queueDepth(target)).toBe(0);
    expect(await driver.queueDepth(other)).toBe(2);
    expect(await jobOf(ids[0]!)).toBeNull();
  });

  test('a filtered purge removes only the matching jobs; the others still run', async () => {
    covers('rq', 'queue.purge_filtered');
    const queue = uniqueQueue('purge_f');
    const keys = [randomUUID(), randomUUID(), randomUUID()];
    const matching = [];
    const kept = [];
    // Interleaved, so the survivors are rebuilt around the holes in their original order.
    for (const key of keys) {
      matching.push(await enqueue(queue, 'count', [key]));
      kept.push(await enqueue(queue, 'flaky', [randomUUID()]));
    }
    expect(await driver.countMatching(queue, { name: 'tasks.count' })).toEqual({ matched: 3, scanned: 6, complete: true, unreadable: 0 });
    const purged = await driver.purgeMatching(queue, { name: 'tasks.count' });
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, matching.sort()]);
    expect(await driver.queueDepth(queue)).toBe(3);
    expect(await jobOf(matching[0]!)).toBeNull();
    expect((await driver.purgeMatching(queue, { name: 'tasks.count' })).purged).toBe(0);
    const w = worker(queue);
    for (const id of kept) await statusOf(id, 'failed'); // flaky fails its first run: it ran
    for (const key of keys) expect(await rqctl<number>('runs', key)).toBe(0);
    await w.stop();
  });

  test('failed jobs are requeued and run again', async () => {
    covers('rq', 'queue.requeue_dead_letters');
    const queue = uniqueQueue('dlq');
    const w = worker(queue);
    const ids = [await enqueue(queue, 'flaky', [randomUUID()]), await enqueue(queue, 'flaky', [randomUUID()])];
    for (const id of ids) await statusOf(id, 'failed');
    expect((await driver.requeueDeadLetters(queue)).requeued).toBe(2);
    for (const id of ids) expect((await statusOf(id, 'finished')).result).toBe('ok after 2 attempts');
    await w.stop();
  });

  // RQ has rate limits from 3.0; the floor and mid runs' RQ (requirements/) is older. Where nothing may
  // skip (Z4J_TEST_NO_SKIPS: the run on the newest engines) they run, and fail on an older RQ.
  const withRateLimits = process.env.Z4J_TEST_NO_SKIPS || packageAtLeast('rq', 'rq', [3]) ? describe : describe.skip;
  withRateLimits("RQ 3's rate limits: z4j keeps their slots as RQ does", () => {
    // One slot per limit key: the first job holds it (queued), the next ones wait (rate_limited)
    // out of the queue. No worker runs until a test starts one. RQ scores the waiting in whole
    // seconds, so jobs enqueued in the same second wait in no set order: compared sorted.
    const redis = new Redis(RQ_REDIS_URL);
    afterAll(() => redis.disconnect());
    const limited = async (queue: string, limit: string, n: number, func = 'count') => {
      const ids = [];
      for (let i = 0; i < n; i++) ids.push(await enqueueLimited(queue, func, [randomUUID()], limit, 1));
      return ids;
    };
    const state = async (queue: string, limit: string) => ({
      queued: await redis.lrange(`rq:queue:${queue}`, 0, -1),
      holding: await redis.zrange(`rq:rl:${limit}:allowed`, '0', '-1'),
      waiting: (await redis.zrange(`rq:rl:${limit}:rate_limited`, '0', '-1')).sort(),
    });

    test('a job waiting for a slot is cancelled; a cancelled job that held one hands it to the next', async () => {
      const queue = uniqueQueue('rl-cancel');
      const limit = `z4j-${randomUUID()}`;
      const [a, b, c] = await limited(queue, limit, 3);
      expect(await state(queue, limit)).toEqual({ queued: [a], holding: [a], waiting: [b, c].sort() });
      await driver.cancel(ref(b!));
      expect((await jobOf(b!))?.status).toBe('canceled');
      expect(await state(queue, limit)).toEqual({ queued: [a], holding: [a], waiting: [c] });
      await driver.cancel(ref(a!));
      expect(await state(queue, limit)).toEqual({ queued: [c], holding: [c], waiting: [] });
      expect((await jobOf(c!))?.status).toBe('queued');
      const w = worker(queue);
      await statusOf(c!, 'finished');
      await w.stop();
      expect(await state(queue, limit)).toEqual({ queued: [], holding: [], waiting: [] });
    });

    test('a retry of a rate-limited job waits for a slot, as its enqueue did', async () => {
      const queue = uniqueQueue('rl-retry');
      const limit = `z4j-${randomUUID()}`;
      const [a] = await limited(queue, limit, 1);
      const clone = randomUUID();
      await driver.retry(null, clone, ref(a!));
      expect((await jobOf(clone))?.status).toBe('rate_limited');
      expect(await state(queue, limit)).toEqual({ queued: [a], holding: [a], waiting: [clone] });
      const w = worker(queue);
      await statusOf(clone, 'finished'); // a's end frees the slot
      await w.stop();
      expect((await jobOf(a!))?.status).toBe('finished');
    });

    test('a purge frees the slots of the jobs it deletes; a requeued failed job waits for one', async () => {
      const queue = uniqueQueue('rl-purge');
      const limit = `z4j-${randomUUID()}`;
      const w = worker(queue);
      const [failed] = await limited(queue, limit, 1, 'flaky');
      await statusOf(failed!, 'failed');
      await w.stop();
      const [holder, waiter] = await limited(queue, limit, 2);
      expect((await driver.requeueDeadLetters(queue)).requeued).toBe(1);
      expect((await jobOf(failed!))?.status).toBe('rate_limited');
      expect(await state(queue, limit)).toEqual({ queued: [holder], holding: [holder], waiting: [waiter, failed].sort() });
      expect((await driver.purgeQueue(queue)).purged).toBe(1);
      const after = await state(queue, limit); // one of the two waiting (same second: either) has the freed slot
      expect(after.queued).toHaveLength(1);
      expect(after.holding).toEqual(after.queued);
      expect([...after.queued, ...after.waiting].sort()).toEqual([waiter, failed].sort());
    });

    test('a filtered purge frees the slots of the jobs it deletes', async () => {
      const queue = uniqueQueue('rl-purge-f');
      const limit = `z4j-${randomUUID()}`;
      const [holder] = await limited(queue, limit, 1, 'count');
      const [waiter] = await limited(queue, limit, 1, 'flaky');
      const other = await enqueue(queue, 'add', [1, 2]);
      expect((await driver.purgeMatching(queue, { name: 'tasks.count' })).purged).toBe(1);
      expect(await jobOf(holder!)).toBeNull();
      expect(await state(queue, limit)).toEqual({ queued: [other, waiter], holding: [waiter], waiting: [] });
    });
  });

  test('a worker is shut down', async () => {
    covers('rq', 'worker.shutdown');
    const w = worker(uniqueQueue('shutdown'));
    await eventually(async () => expect(w.output()).toMatch(/Listening on|listening on|\*\*\* Listening/i), 30_000, 300).catch(() => sleep(3000));
    await eventually(() => driver.workerControl(w.name, 'shutdown'), 20_000, 500);
    // z4j's part: the worker heard the command. Its exit may then take up to a minute on RQ 3.0
    // with redis-py 8 (its pub/sub thread's join, docs/engines.md), hence the longer wait; the
    // worker's output says where it stood if it never exits.
    await eventually(async () => expect(w.output()).toMatch(/Received shutdown command/), 20_000, 300);
    await eventually(async () => expect([w.process.exitCode === null ? 'running' : 'exited', w.output().slice(-3000)]).toEqual(['exited', expect.anything()]), 75_000, 300);
  }, 150_000);
});
