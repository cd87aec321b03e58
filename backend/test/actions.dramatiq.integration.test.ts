// The Dramatiq driver against real Dramatiq workers on Redis: cancel a waiting message,
// retry from a payload, purge, requeue dead letters.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { DramatiqDriver } from '../src/engines/dramatiq/driver.js';
import { covers } from './helpers/coverage.js';
import { dramatiqDriver } from '../src/engines/registry.js';
import { DRAMATIQ_REDIS_URL, dqctl, dqctlWith, startDramatiqWorker, type DramatiqWorker } from './helpers/dramatiq.js';
import { uniqueQueue } from './helpers/rq.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

describe('Dramatiq driver (Redis broker)', () => {
  const driver = new DramatiqDriver(DRAMATIQ_REDIS_URL);
  const workers: DramatiqWorker[] = [];
  const worker = (queue: string) => {
    const w = startDramatiqWorker(queue);
    workers.push(w);
    return w;
  };
  const runs = (queue: string, key: string) => dqctl<number>(queue, 'runs', key);
  const ref = (taskId: string, queue: string) => ({ taskId, name: null, queue, worker: null, state: 'enqueued' });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await driver.close();
  });

  test('a cancelled waiting message never runs', async () => {
    covers('dramatiq', 'task.cancel');
    const queue = uniqueQueue('dq_cancel');
    const key = randomUUID();
    const id = await dqctl<string>(queue, 'send', 'count', JSON.stringify([key]));
    const kept = await dqctl<string>(queue, 'send', 'count', JSON.stringify([`${key}-kept`]));
    await driver.cancel(ref(id, queue));
    expect(await driver.queueDepth(queue)).toBe(1);
    worker(queue);
    await eventually(async () => expect(await runs(queue, `${key}-kept`)).toBe(1), 60_000, 500);
    expect(await runs(queue, key)).toBe(0);
    await expect(driver.cancel(ref(kept, queue))).rejects.toThrow(/no longer waiting/);
  });

  test('retry sends a new message built from the payload, and it runs', async () => {
    covers('dramatiq', 'task.retry');
    const queue = uniqueQueue('dq_retry');
    worker(queue);
    const key = randomUUID();
    const newId = randomUUID();
    await driver.retry({ name: 'count', args: [key], kwargs: {}, queue }, newId, ref('original', queue));
    await eventually(async () => expect(await runs(queue, key)).toBe(1), 60_000, 500);
    await expect(driver.retry(null, randomUUID(), ref('original', queue))).rejects.toThrow(/no retry payload/);
  });

  test('purge empties exactly the target queue', async () => {
    covers('dramatiq', 'queue.purge');
    const target = uniqueQueue('dq_purge');
    const other = uniqueQueue('dq_keep');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await dqctl<string>(target, 'send', 'count', JSON.stringify([randomUUID()])));
    for (let i = 0; i < 2; i++) await dqctl(other, 'send', 'count', JSON.stringify([randomUUID()]));
    const purged = await driver.purgeQueue(target);
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([3, ids.sort()]);
    expect(await driver.queueDepth(target)).toBe(0);
    expect(await driver.queueDepth(other)).toBe(2);
  });

  test('a filtered purge removes only the matching messages; the others still run', async () => {
    covers('dramatiq', 'queue.purge_filtered');
    const queue = uniqueQueue('dq_purge_f');
    const matching = [randomUUID(), randomUUID()];
    const kept = [randomUUID(), randomUUID()];
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push(await dqctl<string>(queue, 'send', 'count', JSON.stringify([matching[i]])));
      await dqctl(queue, 'send', 'flaky', JSON.stringify([kept[i]]));
    }
    expect(await driver.countMatching(queue, { name: 'count' })).toEqual({ matched: 2, scanned: 4, complete: true, unreadable: 0 });
    const purged = await driver.purgeMatching(queue, { name: 'count' });
    expect([purged.purged, purged.taskIds!.sort()]).toEqual([2, ids.sort()]);
    expect(await driver.queueDepth(queue)).toBe(2);
    const w = worker(queue);
    for (const key of kept) await eventually(async () => expect(await runs(queue, key)).toBe(1), 60_000, 500);
    await sleep(500);
    for (const key of matching) expect(await runs(queue, key)).toBe(0);
    await w.stop();
  });

  test('dead letters are requeued and run again', async () => {
    covers('dramatiq', 'queue.requeue_dead_letters');
    const queue = uniqueQueue('dq_xq');
    const w = worker(queue);
    const key = randomUUID();
    const id = await dqctl<string>(queue, 'send', 'flaky', JSON.stringify([key]));
    await eventually(async () => expect(await dqctl<number>(queue, 'dead')).toBe(1), 60_000, 500);
    // The rerun is the next attempt: the requeue is counted in its options, for the agent.
    expect(await driver.requeueDeadLetters(queue)).toEqual({ requeued: 1, tasks: [{ taskId: id, attempt: 1 }] });
    await eventually(async () => expect(await runs(queue, key)).toBe(2), 60_000, 500);
    expect(await dqctl<number>(queue, 'dead')).toBe(0);
    await w.stop();
    await sleep(100);
  });
});

describe('Dramatiq driver (Redis broker with a namespace of its own)', () => {
  // RedisBroker(namespace=...): its keys are <namespace>:<queue>. The service makes its driver
  // with Z4J_DRAMATIQ_NAMESPACE, as here.
  const NS = { Z4J_TEST_DRAMATIQ_NAMESPACE: 'z4j-test-ns' };
  const driver = dramatiqDriver(DRAMATIQ_REDIS_URL, 'z4j-test-ns') as DramatiqDriver;
  const defaultNamespace = new DramatiqDriver(DRAMATIQ_REDIS_URL);
  let worker: DramatiqWorker | undefined;
  const ref = (taskId: string, queue: string) => ({ taskId, name: null, queue, worker: null, state: 'enqueued' });

  afterAll(async () => {
    await worker?.stop();
    await Promise.all([driver.close(), defaultNamespace.close()]);
  });

  test('cancel, purge and retry act on the messages under the namespace', async () => {
    const queue = uniqueQueue('dq_ns');
    const key = randomUUID();
    const cancelled = await dqctlWith<string>(NS, queue, 'send', 'count', JSON.stringify([`${key}-cancelled`]));
    await dqctlWith(NS, queue, 'send', 'count', JSON.stringify([`${key}-purged`]));
    expect(await driver.queueDepth(queue)).toBe(2);
    expect(await defaultNamespace.queueDepth(queue)).toBe(0); // what z4j saw before the setting
    await driver.cancel(ref(cancelled, queue));
    expect((await driver.purgeQueue(queue)).purged).toBe(1);
    worker = startDramatiqWorker(queue, NS);
    await driver.retry({ name: 'count', args: [key], kwargs: {}, queue }, randomUUID(), ref(cancelled, queue));
    await eventually(async () => expect(await dqctlWith<number>(NS, queue, 'runs', key)).toBe(1), 60_000, 500);
    expect(await dqctlWith<number>(NS, queue, 'runs', `${key}-cancelled`)).toBe(0);
    expect(await dqctlWith<number>(NS, queue, 'runs', `${key}-purged`)).toBe(0);
  });
});
