// A schedule on Celery over Redis, end to end: created through the API, "run now" puts on the
// queue the protocol-2 message a Celery worker takes (the task's name, the exact args and
// kwargs), a real worker runs it, and the scheduler fires it on its cron (its due time moved to
// the past) as the same kind of task, shown in the explorer with the schedule as its reason.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { REDIS_URL, isolatedCelery, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(180_000);

interface Run { id: string; trigger: string; state: string; taskId: string | null; error: string | null; dueAt: string | null }
interface TaskDetail { task: { state: string; name: string; result: unknown; queue: string | null }; events: { kind: string; fields: Record<string, unknown> }[] }

describe('a schedule on Celery (Redis)', () => {
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker | undefined;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });

  async function call<T>(method: string, path: string, body?: unknown, role: 'viewer' | 'operator' | 'admin' = 'admin'): Promise<{ status: number; body: T }> {
    const res = await fetch(`${svc.url}${path}`, { method, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...authHeaders(role) }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  }
  const taskInState = (id: string, state: string) => eventually(async () => {
    const r = await call<TaskDetail>('GET', `/api/tasks/celery/${id}`, undefined, 'viewer');
    if (r.body.task?.state !== state) throw new Error(`task ${id} is ${r.body.task?.state ?? r.status}, waiting for ${state}\n${worker?.output().slice(-2000) ?? ''}`);
    return r.body;
  });

  beforeAll(async () => {
    celery = isolatedCelery(REDIS_URL);
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('schedules_celery'),
      Z4J_CELERY_BROKERS: [celery.broker], Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange, Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0, Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET, Z4J_SCHEDULER_INTERVAL: 1,
    }), { log: pino({ level: 'warn' }) });
    await redis.connect();
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
    redis.disconnect();
  });

  test('run now sends the message a Celery worker takes, and the worker runs it; the cron fires it again', async () => {
    const created = await call<{ schedule: { id: string; nextRunAt: string } }>('POST', '/api/schedules', {
      name: 'answer', engine: 'celery', taskName: 'z4j.add', args: [20], kwargs: { y: 22 }, queue: celery.queue, cron: '0 3 * * *', timezone: 'Europe/Paris',
    });
    expect(created.status).toBe(201);
    const id = created.body.schedule.id;

    // No worker yet: the message waits on the queue, as Celery's own apply_async leaves it.
    const now = await call<{ run: Run }>('POST', `/api/schedules/${id}/run`, undefined, 'operator');
    expect(now.status).toBe(202);
    expect(now.body.run).toMatchObject({ trigger: 'manual', state: 'sent', error: null });
    const taskId = now.body.run.taskId!;
    const waiting = await redis.lrange(celery.queue, 0, -1);
    expect(waiting).toHaveLength(1);
    const envelope = JSON.parse(waiting[0]!) as { body: string; headers: Record<string, unknown>; properties: Record<string, unknown> };
    expect(envelope.headers).toMatchObject({ lang: 'py', task: 'z4j.add', id: taskId, root_id: taskId, retries: 0 });
    expect(envelope.properties).toMatchObject({ correlation_id: taskId, delivery_info: { routing_key: celery.queue } });
    expect(JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'))).toEqual([[20], { y: 22 }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    const enqueued = await taskInState(taskId, 'enqueued');
    expect(enqueued.task).toMatchObject({ name: 'z4j.add', queue: celery.queue });
    expect(enqueued.events[0]!.fields.reason).toBe('schedule answer (run now by otto)');

    worker = startWorker(celery, { concurrency: 1 });
    expect((await taskInState(taskId, 'succeeded')).task.result).toBe('42'); // Celery reports the result's repr

    // Its cron time comes (moved to now): the scheduler sends it once, and it runs.
    await svc.db.query(`UPDATE schedules SET next_run_at = now() - interval '1 second' WHERE id = $1`, [id]);
    const cron = await eventually(async () => {
      const runs = (await call<{ runs: Run[] }>('GET', `/api/schedules/${id}/runs`, undefined, 'viewer')).body.runs;
      const fired = runs.find((r) => r.trigger === 'cron');
      if (!fired || fired.state === 'sending') throw new Error(`no cron run sent yet: ${JSON.stringify(runs)}`);
      return fired;
    }, 30_000);
    expect(cron).toMatchObject({ state: 'sent', error: null, dueAt: expect.any(String) });
    const ran = await taskInState(cron.taskId!, 'succeeded');
    expect(ran.task.result).toBe('42'); // Celery reports the result's repr
    expect(ran.events.find((e) => e.kind === 'enqueued')?.fields.reason).toBe('schedule answer (cron)');
    // Moved on to its next 03:00 in Paris, and fired only once.
    const after = (await call<{ schedule: { nextRunAt: string; lastRun: Run } }>('GET', `/api/schedules/${id}`, undefined, 'viewer')).body.schedule;
    expect(Date.parse(after.nextRunAt)).toBeGreaterThan(Date.now());
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }).format(Date.parse(after.nextRunAt))).toBe('03:00');
    expect(after.lastRun.id).toBe(cron.id);
    expect((await call<{ runs: Run[] }>('GET', `/api/schedules/${id}/runs`, undefined, 'viewer')).body.runs).toHaveLength(2);
    expect(await svc.metrics.registry.getSingleMetricAsString('z4j_schedule_runs_total')).toMatch(/state="sent"\} 2/);
  });
});
