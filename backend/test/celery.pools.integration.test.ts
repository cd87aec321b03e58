// Celery's other worker pools, as users run them (-P gevent, threads, solo), with the z4j agent in
// the app: the lifecycles are captured as with prefork, a chain's next step sent from the worker
// (by the agent under gevent's patched threads) can be retried, and a terminate ends as each pool
// can end it: gevent kills the task's greenlet; the threads pool cannot stop a task, which the
// command says at once; a solo worker reads control messages only between tasks. Celery holds a
// solo worker's task events while its one thread runs the task (for the loop of that thread to
// send): the agent there sends them as the task begins, so z4j sees the task running.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Service } from '../src/service.js';
import { authHeaders } from './helpers/auth.js';
import { covers } from './helpers/coverage.js';
import { isolatedCelery, sendScenario, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { celeryServiceWithAgent, workerOnline } from './helpers/celeryService.js';
import { packageAtLeast } from './helpers/pyapp.js';
import { eventually } from './helpers/wait.js';

// Its own Redis database: services reading one database's agent streams share their entries
// (consumer group z4j), so suites run side by side must not.
const REDIS_URL = process.env.Z4J_TEST_CELERY_POOLS_REDIS_URL ?? 'redis://127.0.0.1:6379/26';

jest.setTimeout(240_000);

interface Command { id: number; kind: string; state: string; outcome: Record<string, unknown> | null }
interface TaskDetail { task: { state: string; worker: string | null; result: unknown }; events: { kind: string }[] }

// Celery before 5.7 loses task events of the threads pool: its EventDispatcher's buffer is shared
// by the pool's threads without a lock (5.7.0 made it thread-safe; docs/engines.md). Where nothing
// may skip (Z4J_TEST_NO_SKIPS: the run on the newest engines) it runs.
const threadsKeepEvents = Boolean(process.env.Z4J_TEST_NO_SKIPS) || packageAtLeast('celery', 'celery', [5, 7]);

for (const pool of ['gevent', 'threads', 'solo'] as const) (pool !== 'threads' || threadsKeepEvents ? describe : describe.skip)(`a Celery worker of the ${pool} pool`, () => {
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;

  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...authHeaders('operator') };
    if (method === 'POST') headers['idempotency-key'] = randomUUID();
    const res = await fetch(`${svc.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  }
  const task = async (id: string) => (await call<TaskDetail>('GET', `/api/tasks/celery/${id}`)).body;
  const taskInState = (id: string, ...states: string[]) => eventually(async () => {
    const d = await task(id);
    if (!states.includes(d?.task?.state)) throw new Error(`task ${id} is ${d?.task?.state}, waiting for ${states.join('/')}\n${worker.output()}`);
    return d;
  });
  const commandSettles = (id: number) => eventually(async () => {
    const c = (await call<{ command: Command }>('GET', `/api/commands/${id}`)).body.command;
    if (['pending', 'dispatched'].includes(c.state)) throw new Error(`command ${id} still ${c.state}`);
    return c;
  });
  const act = async (id: string, action: string) => {
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/${action}`);
    expect(r.status).toBe(202);
    return r.body.command;
  };

  beforeAll(async () => {
    celery = isolatedCelery(REDIS_URL);
    svc = await celeryServiceWithAgent(celery, `celery_pool_${pool}`);
    worker = startWorker(celery, { pool, concurrency: pool === 'solo' ? 1 : 4 });
    await workerOnline(svc, worker);
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
  });

  test('lifecycles are captured, and a chain step the worker sent is retried from its payload', async () => {
    covers('celery', 'task.retry');
    const ids = await sendScenario(celery);
    await taskInState(ids.add, 'succeeded');
    await taskInState(ids.fail, 'failed');
    await taskInState(ids.flaky, 'succeeded');
    for (const id of [...ids.chain, ...ids.group]) expect((await taskInState(id, 'succeeded')).task.worker).toBe(worker.hostname);
    // The chain's last step was sent by the worker running the one before (with the agent there):
    // retried from the payload that agent captured, it runs again with the same arguments.
    const last = ids.chain[2]!;
    const payloadOf = async (id: string) => (await svc.db.query('SELECT 1 FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL', [id])).rows.length;
    await eventually(async () => expect(await payloadOf(last)).toBe(1), 30_000, 200);
    const retry = await act(last, 'retry');
    const newTaskId = (await commandSettles(retry.id)).outcome?.newTaskId as string;
    expect((await taskInState(newTaskId, 'succeeded')).task.result).toBe((await task(last)).task.result);
  });

  test('a running task is seen running, and terminate ends as the pool can end it', async () => {
    covers('celery', 'task.terminate');
    const seconds = pool === 'gevent' ? 120 : 6;
    const id = await sendTask(celery, 'z4j.sleep', [seconds]);
    await taskInState(id, 'started');
    const command = await act(id, 'terminate');
    if (pool === 'gevent') {
      expect((await commandSettles(command.id)).state).toBe('succeeded');
      expect((await task(id)).task.state).toBe('revoked');
    } else if (pool === 'threads') {
      // Failed at once, saying why; the task goes on to its end.
      expect(command).toMatchObject({ state: 'failed', outcome: { worker: worker.hostname, message: expect.stringMatching(/cannot terminate a running task: its pool cannot stop one/) } });
      expect((await taskInState(id, 'succeeded')).task.result).toBe(String(seconds));
    } else {
      // Busy with the task, the solo worker answers nothing now, and reads the revoke once the task ended.
      expect(command).toMatchObject({ state: 'dispatched', outcome: { worker: worker.hostname, reply: null, message: expect.stringMatching(/did not answer within 2 s/) } });
      expect(await commandSettles(command.id)).toMatchObject({ state: 'failed', outcome: { taskState: 'succeeded', message: 'the task finished first (succeeded)' } });
    }
  });

  test('pool size: gevent grows; threads and solo say their size is fixed', async () => {
    covers('celery', 'worker.pool_grow');
    const r = await call<{ command: Command }>('POST', `/api/workers/celery/${encodeURIComponent(worker.hostname)}/actions/pool_grow`, { n: 1 });
    expect(r.status).toBe(202);
    if (pool === 'gevent') expect(r.body.command).toMatchObject({ state: 'succeeded', outcome: { reply: 'pool will grow' } });
    else expect(r.body.command).toMatchObject({ state: 'failed', outcome: { message: expect.stringMatching(/its pool has a fixed size/) } });
  });
});
