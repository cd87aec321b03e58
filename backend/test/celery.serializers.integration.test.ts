// Retries from z4j to Celery apps whose workers accept only pickle or only msgpack (their
// accept_content): a json message is dropped there without running ("Refusing to deserialize
// untrusted content"), so z4j sends the retry in the serializer the agent recorded with the call.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Service } from '../src/service.js';
import { authHeaders } from './helpers/auth.js';
import { covers } from './helpers/coverage.js';
import { AMQP_URL, isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { celeryServiceWithAgent, workerOnline } from './helpers/celeryService.js';
import { eventually } from './helpers/wait.js';

// Its own Redis database: services reading one database's agent streams share their entries
// (consumer group z4j), so suites run side by side must not.
const REDIS_URL = process.env.Z4J_TEST_CELERY_SERIALIZERS_REDIS_URL ?? 'redis://127.0.0.1:6379/27';

jest.setTimeout(240_000);

interface Command { id: number; state: string; outcome: Record<string, unknown> | null }
interface TaskDetail { task: { state: string; result: unknown } }

describe.each([['pickle', 'redis'], ['msgpack', 'redis'], ['pickle', 'amqp']] as const)('a Celery app of the %s serializer only, on %s', (serializer, broker) => {
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;

  async function call<T>(method: string, path: string): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...authHeaders('operator') };
    if (method === 'POST') headers['idempotency-key'] = randomUUID();
    const res = await fetch(`${svc.url}${path}`, { method, headers });
    return { status: res.status, body: (await res.json()) as T };
  }
  const taskInState = (id: string, state: string) => eventually(async () => {
    const d = (await call<TaskDetail>('GET', `/api/tasks/celery/${id}`)).body;
    if (d?.task?.state !== state) throw new Error(`task ${id} is ${d?.task?.state}, waiting for ${state}\n${worker.output().slice(-3000)}`);
    return d;
  });

  beforeAll(async () => {
    celery = { ...isolatedCelery(broker === 'redis' ? REDIS_URL : AMQP_URL), serializer };
    svc = await celeryServiceWithAgent(celery, `celery_${serializer}_${broker}`);
    worker = startWorker(celery, { concurrency: 1 });
    await workerOnline(svc, worker);
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
  });

  test("a retry from z4j is sent in the app's serializer, and runs with the original arguments", async () => {
    covers('celery', 'task.retry');
    const id = await sendTask(celery, 'z4j.fail_once', [randomUUID()], { kwargs: { password: 'hunter2-secret' } });
    await taskInState(id, 'failed');
    await eventually(async () => {
      const row = (await svc.db.query('SELECT 1 FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL', [id])).rows;
      if (!row.length) throw new Error('no payload from the agent yet');
    }, 30_000, 200);
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/retry`);
    expect(r.status).toBe(202);
    const newTaskId = r.body.command.outcome?.newTaskId as string;
    expect(newTaskId).toEqual(expect.any(String));
    // Had it gone as json, the worker would have dropped it: it would never run.
    expect((await taskInState(newTaskId, 'succeeded')).task.result).toBe("'ok after 2 attempts'");
  });
});
