// Retries from z4j to Celery apps whose workers accept only pickle or only msgpack (their
// accept_content): a json message is dropped there without running ("Refusing to deserialize
// untrusted content"), so z4j sends the retry in the serializer the agent recorded with the call.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { agentKeyEntry, testAgent } from './helpers/agentBatches.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { covers } from './helpers/coverage.js';
import { AMQP_URL, REDIS_URL, isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

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

  const agent = testAgent();
  const agentQueue = `z4j.events.${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    celery = { ...isolatedCelery(broker === 'redis' ? REDIS_URL : AMQP_URL), serializer };
    celery.agent = { Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project, Z4J_AMQP_QUEUE: agentQueue, Z4J_FLUSH_INTERVAL: '0.05' };
    const config = loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: await createTestDatabase(`celery_${serializer}_${broker}`),
      Z4J_CELERY_BROKERS: [celery.broker],
      Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange,
      Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_AMQP_QUEUE: `z4j.${celery.eventExchange}`,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
      Z4J_AGENT_KEYS: [agentKeyEntry(agent)],
      ...(broker === 'redis' ? { Z4J_AGENT_REDIS_URLS: [REDIS_URL] } : { Z4J_AGENT_AMQP_URLS: [AMQP_URL], Z4J_AGENT_AMQP_QUEUE: agentQueue }),
    });
    svc = await startService(config, { log: pino({ level: 'warn' }) });
    worker = startWorker(celery, { concurrency: 1 });
    await eventually(async () => {
      const w = await call<{ workers: { hostname: string; online: boolean }[] }>('GET', '/api/workers');
      if (!w.body.workers.some((x) => x.hostname === worker.hostname && x.online)) throw new Error(`worker not online yet:\n${worker.output()}`);
    });
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
