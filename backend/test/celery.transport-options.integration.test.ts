// Celery on Redis with kombu transport options that move every key and channel
// (global_keyprefix, sep, priority_steps), given to z4j on the broker URL: a real worker's
// events still arrive, and control requests, cancels, retries, depths and purges find the
// lists and channels where kombu put them.
import { randomBytes, randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { CeleryRedisSource } from '../src/sources/celery/redisSource.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { REDIS_URL, isolatedCelery, sendTask, sendTasks, startWorker, sweepBindings, type CeleryEnv, type Worker } from './helpers/celery.js';
import { packageAtLeast } from './helpers/pyapp.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(180_000);

interface TaskDetail { task: { state: string; worker: string | null; runtimeMs: number | null }; events: { kind: string }[] }

describe('Celery on Redis with a global key prefix, another separator and other priority steps', () => {
  const keyprefix = `z4jp_${randomBytes(3).toString('hex')}:`;
  const celery: CeleryEnv = { ...isolatedCelery(REDIS_URL), transportOptions: { global_keyprefix: keyprefix, sep: ':', priority_steps: [0, 5] } };
  const brokerUrl = `${REDIS_URL}?global_keyprefix=${encodeURIComponent(keyprefix)}&sep=${encodeURIComponent(':')}&priority_steps=0,5`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  let svc: Service;
  let worker: Worker;

  const task = async (id: string): Promise<TaskDetail | null> => {
    const res = await fetch(`${svc.url}/api/tasks/celery/${id}`, { headers: authHeaders('viewer') });
    return res.status === 200 ? ((await res.json()) as TaskDetail) : null;
  };
  const taskInState = (id: string, state: string) => eventually(async () => {
    const d = await task(id);
    if (d?.task.state !== state) throw new Error(`task ${id} is ${d?.task.state ?? 'unknown'}, waiting for ${state}\n${worker.output()}`);
    return d;
  });
  const driver = () => svc.actions.drivers.get('celery')!;

  beforeAll(async () => {
    await redis.connect();
    const config = loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: await createTestDatabase('celery_keyprefix'),
      Z4J_CELERY_BROKERS: [brokerUrl],
      Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange,
      Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    });
    svc = await startService(config, { log: pino({ level: 'warn' }) });
    worker = startWorker(celery, { concurrency: 1 });
    await eventually(async () => {
      const res = await fetch(`${svc.url}/api/workers`, { headers: authHeaders('viewer') });
      const { workers } = (await res.json()) as { workers: { hostname: string; online: boolean }[] };
      if (!workers.some((w) => w.hostname === worker.hostname && w.online)) throw new Error(`worker not online yet:\n${worker.output()}`);
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
    const keys = await redis.keys(`${keyprefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test("the worker's events arrive on the prefixed channels: a task's whole lifecycle", async () => {
    const id = await sendTask(celery, 'z4j.add', [2, 3]);
    const d = await taskInState(id, 'succeeded');
    expect(d.task.worker).toBe(worker.hostname);
    expect(d.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['enqueued', 'received', 'started', 'succeeded']));
  });

  test('a control request is answered through the prefixed reply binding', async () => {
    expect(await driver().workerControl!(worker.hostname, 'pool_grow', { n: 1 })).toMatchObject({ detail: { reply: 'pool will grow' } });
    expect(await driver().workerControl!(worker.hostname, 'pool_shrink', { n: 1 })).toMatchObject({ detail: { reply: 'pool will shrink' } });
    // Nothing of the request is left behind: the binding and the reply list are gone.
    expect(await redis.smembers(`${keyprefix}_kombu.binding.reply.${celery.controlExchange}.pidbox`)).toEqual([]);
  });

  // kombu sweeps binding tables from 5.7; the older kombus of the floor and mid runs (requirements/)
  // have no sweep. Where nothing may skip (Z4J_TEST_NO_SKIPS: the run on the newest engines) it runs.
  const withSweep = process.env.Z4J_TEST_NO_SKIPS || packageAtLeast('celery', 'kombu', [5, 7]) ? test : test.skip;
  withSweep("kombu's sweep of overdue binding tables leaves a pending request's reply binding alone", async () => {
    // As if a `celery inspect` client bound a reply queue here over an hour ago: the table is overdue.
    const exchange = `reply.${celery.controlExchange}.pidbox`;
    const table = `${keyprefix}_kombu.binding.${exchange}`;
    await redis.zadd(`${keyprefix}_kombu.binding_deadlines`, Date.now() - 60_000, exchange);
    const source = svc.sources.find((s) => s.name.startsWith('celery-redis')) as CeleryRedisSource;
    const ghost = `celery@ghost-${randomUUID().slice(0, 8)}`;
    const pending = source.request('ping', {}, [ghost], 8000); // nobody answers: the binding stays for 8 s
    await eventually(async () => expect(await redis.scard(table)).toBe(1), 2000, 20);
    await sweepBindings(celery); // kombu's own sweep, what a worker runs every minute
    expect(await redis.scard(table)).toBe(1);
    expect(await pending).toEqual([]);
    expect(await redis.scard(table)).toBe(0);
  });

  test('a cancel broadcast reaches the worker: the task waiting for its countdown never runs', async () => {
    const id = await sendTask(celery, 'z4j.add', [20, 22], { countdown: 4 });
    await taskInState(id, 'received');
    await driver().cancel!({ taskId: id, name: 'z4j.add', queue: celery.queue, worker: null, state: 'received' });
    await taskInState(id, 'revoked');
    await sleep(4500); // past the countdown: had the revoke not arrived, it would run now
    expect((await task(id))!.events.map((e) => e.kind)).not.toContain('started');
  });

  test('depth and purge count every priority list of the queue, under the prefix', async () => {
    const waiting = `${celery.queue}_waiting`; // no worker consumes it
    await sendTasks(celery, [
      { name: 'z4j.add', args: [1, 1], queue: waiting },
      { name: 'z4j.add', args: [2, 2], queue: waiting, priority: 2 },
      { name: 'z4j.sleep', args: [0], queue: waiting, priority: 7 },
    ]);
    // kombu's layout, checked on the server itself: priorities 0–4 in the queue's list, 5–9 in `:5`.
    expect([await redis.llen(`${keyprefix}${waiting}`), await redis.llen(`${keyprefix}${waiting}:5`)]).toEqual([2, 1]);
    expect(await driver().queueDepth!(waiting)).toBe(3);
    expect(await driver().countMatching!(waiting, { name: 'z4j.sleep' })).toMatchObject({ matched: 1, scanned: 3, complete: true });
    expect((await driver().purgeMatching!(waiting, { name: 'z4j.sleep' })).purged).toBe(1);
    expect((await driver().purgeQueue!(waiting)).purged).toBe(2);
    expect(await redis.exists(`${keyprefix}${waiting}`, `${keyprefix}${waiting}:5`)).toBe(0);
  });

  test('a retry lands on the list of its priority, where the worker takes it', async () => {
    const newId = randomUUID();
    await driver().retry!({ name: 'z4j.add', args: [40, 2], kwargs: {}, queue: celery.queue, options: { priority: 8 } }, newId, { taskId: 'original', name: 'z4j.add', queue: celery.queue, worker: null, state: 'failed' });
    await taskInState(newId, 'succeeded');
  });
});
