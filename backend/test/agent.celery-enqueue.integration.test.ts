// The agent in Celery producers and workers, with Celery's own events on: each attempt of a task
// has one `enqueued` in its timeline — the agent's (its exact call sealed as the retry payload)
// merged with Celery's task-sent — and a producer without task-sent still shows its enqueue.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { AGENT_MARK } from '../src/ingest/celeryEnqueues.js';
import { startService, type Service } from '../src/service.js';
import { agentKeyEntry, testAgent } from './helpers/agentBatches.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { AMQP_URL, isolatedCelery, runInApp, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(180_000);

interface TaskDetail { task: { state: string }; events: { kind: string }[] }

describe('Celery with the agent: one enqueue per attempt', () => {
  const agent = testAgent();
  const agentQueue = `z4j.events.${randomUUID().slice(0, 8)}`; // this file's own: files run in parallel
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;

  const enqueues = async (id: string) =>
    (await svc.db.query<{ fields: Record<string, unknown> }>(`SELECT fields FROM task_events WHERE task_id = $1 AND kind = 'enqueued' ORDER BY occurred_at`, [id])).rows.map((r) => r.fields);
  const detail = async (id: string) => {
    const res = await fetch(`${svc.url}/api/tasks/celery/${id}`, { headers: authHeaders('viewer') });
    if (res.status !== 200) throw new Error(`task ${id}: ${res.status}`);
    return (await res.json()) as TaskDetail;
  };
  const succeeded = (id: string) => eventually(async () => {
    const d = await detail(id);
    if (d.task.state !== 'succeeded') throw new Error(`task ${id} is ${d.task.state}\n${worker.output().slice(-2000)}`);
    return d;
  }, 60_000, 250);
  const sealed = async (id: string) => (await svc.db.query('SELECT 1 FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL', [id])).rows.length;

  /** Runs `code` in a producer of the test app with the agent; prints what it leaves in `out`. */
  const produce = async (code: string): Promise<string> => {
    const script = `import json, tasks, z4j_agent; ${code}; assert z4j_agent.get_agent().flush(10); tasks.app.close(); print(out if isinstance(out, str) else json.dumps(out))`;
    const run = await runInApp(celery, ['-c', script]);
    expect([run.code, run.err]).toEqual([0, '']);
    return run.out.trim();
  };

  beforeAll(async () => {
    celery = isolatedCelery(AMQP_URL);
    celery.agent = { Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project, Z4J_AMQP_QUEUE: agentQueue, Z4J_FLUSH_INTERVAL: '0.05' };
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('celery_enqueue'),
      Z4J_CELERY_BROKERS: [celery.broker], Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange, Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_AMQP_QUEUE: `z4j.${celery.eventExchange}`, Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
      Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_AGENT_AMQP_URLS: [AMQP_URL], Z4J_AGENT_AMQP_QUEUE: agentQueue,
      Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
    worker = startWorker(celery, { concurrency: 2 });
  });
  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
  });

  test('task-sent and the agent both report the send: one enqueued row with both, the payload sealed', async () => {
    const id = await sendTask(celery, 'z4j.add', [2, 3]);
    await succeeded(id);
    // Both arrived: the row has the agent's mark and the producer only task-sent names.
    const [row] = await eventually(async () => {
      const rows = await enqueues(id);
      if (!rows.some((f) => f.recordedBy === AGENT_MARK && f.producer)) throw new Error(`not merged yet: ${JSON.stringify(rows)}`);
      return rows;
    }, 30_000, 250);
    await sleep(1000); // nothing more comes
    expect(await enqueues(id)).toHaveLength(1);
    expect(row!.args).toEqual([2, 3]); // the agent's JSON, not task-sent's repr
    expect((await detail(id)).events.filter((e) => e.kind === 'enqueued')).toHaveLength(1);
    expect(await sealed(id)).toBe(1);
  });

  test('a task Celery retries: one enqueued per attempt, each merged', async () => {
    const id = await sendTask(celery, 'z4j.flaky', [randomUUID()], { kwargs: { password: 'hunter2' } });
    await succeeded(id);
    const rows = await eventually(async () => {
      const r = await enqueues(id);
      if (r.length !== 2 || !r.every((f) => f.recordedBy === AGENT_MARK && f.producer)) throw new Error(`enqueues: ${JSON.stringify(r)}`);
      return r;
    }, 30_000, 250);
    expect(rows.map((f) => f.retries)).toEqual([0, 1]);
    expect(JSON.stringify(rows)).not.toContain('hunter2');
  });

  test('a producer without task-sent (task_send_sent_event off): the agent\'s enqueue is the one shown', async () => {
    const id = await produce('tasks.app.conf.task_send_sent_event = False; r = tasks.add.delay(4, 5); out = r.id');
    await succeeded(id);
    // The agent's enqueue comes on its own queue, unordered with Celery's events: wait for it.
    await eventually(async () => expect((await enqueues(id)).map((f) => f.recordedBy)).toContain(AGENT_MARK), 30_000, 250);
    await sleep(1000); // nothing more comes
    const rows = await enqueues(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.recordedBy).toBe(AGENT_MARK);
    expect(rows[0]!.producer).toBeUndefined(); // no task-sent came
    expect(await sealed(id)).toBe(1);
  });

  test('a group sent on its own is drawn whole from any member: the agent names its group', async () => {
    const ids = JSON.parse(await produce('from celery import group; g = group(tasks.add.s(i, i) for i in range(3)).apply_async(); out = [r.id for r in g.results]')) as string[];
    for (const id of ids) await succeeded(id);
    // The group is named by the agent's enqueues, which may be stored after Celery's events of the runs.
    await eventually(async () => {
      const res = await fetch(`${svc.url}/api/tasks/celery/${ids[1]}/graph`, { headers: authHeaders('viewer') });
      const graph = (await res.json()) as { nodes: { taskId: string }[] };
      expect([res.status, graph.nodes.map((n) => n.taskId).sort()]).toEqual([200, [...ids].sort()]);
    }, 30_000, 250);
  });
});
