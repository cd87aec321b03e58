// A schedule on RQ: z4j writes the job itself (RQ's pickled call, zlib-compressed, in a job hash
// at the back of the queue), and a real RQ worker runs it with the exact arguments.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { openPostgres } from '../src/db/postgres.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { jobOf, RQ_REDIS_URL, startRqWorker, uniqueQueue, type RqWorker } from './helpers/rq.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(120_000);

// What JSON can say, each as Python should get it.
const ARGS = [1, -1, 2147483648, -9007199254740991, 0.5, -1e300, 'héllo ✓ 🎉', '', true, false, null, [], {}, [1, [2, { deep: [null] }]]];
const KWARGS = { password: 'hunter2rq', nested: { list: ['a', 1.25], 'ünï': -129 } };

describe('a schedule on RQ', () => {
  let svc: Service;
  let worker: RqWorker;
  const queue = uniqueQueue('sched');

  async function call<T>(method: string, path: string, body?: unknown, role: 'viewer' | 'operator' | 'admin' = 'admin'): Promise<{ status: number; body: T }> {
    const res = await fetch(`${svc.url}${path}`, { method, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...authHeaders(role) }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  }

  beforeAll(async () => {
    const dbUrl = await createTestDatabase('schedules_rq');
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: dbUrl, Z4J_CELERY_BROKERS: [], Z4J_RQ_REDIS_URL: RQ_REDIS_URL,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET, Z4J_INGEST_FLUSH_MS: 20, Z4J_SCHEDULER_INTERVAL: 0,
    }), { log: pino({ level: 'warn' }) });
    worker = startRqWorker([queue]);
    // The application has enqueued tasks.echo on RQ before (an RQ schedule sends only such a task).
    const db = await openPostgres(dbUrl);
    await db.query(`INSERT INTO tasks (project_id, engine, task_id, name, state, attempt_at, state_at, first_seen_at, last_event_at)
                    SELECT id, 'rq', 'seen-echo', 'tasks.echo', 'succeeded', now(), now(), now(), now() FROM projects WHERE slug = 'default'`);
    await db.close();
  });

  test('a function the application never enqueued is refused: RQ workers would call any of them', async () => {
    for (const taskName of ['eval', 'os.system']) {
      const r = await call<{ error: { code: string; message: string } }>('POST', '/api/schedules', { name: `x-${taskName}`, engine: 'rq', taskName, args: ['id'], queue, cron: '@daily' });
      expect([r.status, r.body.error.code]).toEqual([400, 'UNKNOWN_TASK']);
    }
  });
  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
  });

  test('run now: the worker runs the job z4j wrote, with the exact args and kwargs', async () => {
    const created = await call<{ schedule: { id: string; kwargs: Record<string, unknown> } }>('POST', '/api/schedules', {
      name: 'echo', engine: 'rq', taskName: 'tasks.echo', args: ARGS, kwargs: KWARGS, queue, cron: '@daily',
    });
    expect(created.status).toBe(201);
    expect(created.body.schedule.kwargs.password).toBe('[redacted]');
    const r = await call<{ run: { state: string; taskId: string; error: string | null } }>('POST', `/api/schedules/${created.body.schedule.id}/run`, undefined, 'operator');
    expect([r.status, r.body.run.state, r.body.run.error]).toEqual([202, 'sent', null]);
    const job = await eventually(async () => {
      const j = await jobOf(r.body.run.taskId);
      if (j?.status !== 'finished') throw new Error(`job is ${j?.status}\n${worker.output().slice(-2000)}`);
      return j;
    }, 60_000, 300);
    expect(job.result).toEqual({
      args: ARGS, kwargs: KWARGS,
      types: ['int', 'int', 'int', 'int', 'float', 'float', 'str', 'str', 'bool', 'bool', 'NoneType', 'list', 'dict', 'list'],
    });
    // The job's description (logged by RQ's workers for every job, shown by dashboards) hides a value by its key.
    const redis = new Redis(RQ_REDIS_URL);
    const description = await redis.hget(`rq:job:${r.body.run.taskId}`, 'description').finally(() => redis.disconnect());
    expect(description).toContain('password="[redacted]"');
    expect(description).not.toContain('hunter2rq');
    const task = await call<{ task: { name: string; queue: string } }>('GET', `/api/tasks/rq/${r.body.run.taskId}`, undefined, 'viewer');
    expect(task.body.task).toMatchObject({ name: 'tasks.echo', queue });
  });
});
