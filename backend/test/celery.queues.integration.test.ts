// Celery names a task's queue only in task-sent events, which producers do not send by default.
// z4j then learns the queues from the workers themselves (their active_queues), so the Queues
// page lists them and a purge, which needs the project to have seen the queue, reaches them.
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { REDIS_URL, isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(120_000);

describe('Celery queues without task-sent events', () => {
  const celery: CeleryEnv = { ...isolatedCelery(REDIS_URL), sentEvents: false };
  let svc: Service;
  let worker: Worker;
  const api = async <T>(path: string, init: RequestInit = {}) => {
    const res = await fetch(`${svc.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...authHeaders('admin'), ...init.headers } });
    return { status: res.status, body: (await res.json()) as T };
  };

  beforeAll(async () => {
    svc = await startService(loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: await createTestDatabase('celery_queues'),
      Z4J_CELERY_BROKERS: [celery.broker],
      Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange,
      Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
      Z4J_QUEUE_SAMPLE_INTERVAL: 1,
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'warn' }) });
    worker = startWorker(celery, { concurrency: 1 });
  });
  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
  });

  test("the worker's queue is listed, with its depth, and can be purged, though no event named it", async () => {
    const id = await sendTask(celery, 'z4j.add', [1, 2]);
    const ran = await eventually(async () => {
      const r = await api<{ task: { state: string; queue: string | null } }>(`/api/tasks/celery/${id}`);
      if (r.body.task?.state !== 'succeeded') throw new Error(`task is ${r.body.task?.state}\n${worker.output()}`);
      return r.body.task;
    });
    expect(ran.queue).toBeNull(); // Celery's own events never said where it was sent
    const queue = await eventually(async () => {
      const r = await api<{ queues: { name: string; depth: number | null }[] }>('/api/queues?engine=celery');
      const q = r.body.queues.find((x) => x.name === celery.queue);
      if (!q || q.depth === null) throw new Error(`queue not listed with a depth yet: ${JSON.stringify(r.body.queues)}`);
      return q;
    }, 30_000, 500);
    expect(queue.depth).toBe(0);
    const preview = await api<{ depth: number; token: string }>(`/api/queues/celery/${celery.queue}/purge-preview`, { method: 'POST', body: '{}' });
    expect([preview.status, preview.body.depth]).toEqual([200, 0]);
  });
});
