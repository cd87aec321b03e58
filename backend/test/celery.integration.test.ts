// Celery observed end to end, without any agent: a real worker on Redis and on RabbitMQ runs
// tasks that succeed, fail, retry then succeed, a chain and a group; the service, on real
// PostgreSQL and on embedded PGlite, records each with its final state, times, links and
// timeline, and keeps them across a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { jest } from '@jest/globals';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { AMQP_URL, REDIS_URL, isolatedCelery, sendScenario, sendTask, startWorker, type CeleryEnv, type ScenarioIds, type Worker } from './helpers/celery.js';
import { createTestDatabase, type StorageKind } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(180_000);

interface Task {
  taskId: string;
  state: string;
  name: string;
  worker: string | null;
  retries: number;
  rootId: string | null;
  parentId: string | null;
  queue: string | null;
  result: unknown;
  exception: string | null;
  kwargs: unknown;
  sentAt: string | null;
  receivedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  runtimeMs: number | null;
  waitMs: number | null;
}
interface Detail {
  task: Task & { traceback: string | null };
  events: { kind: string; occurredAt: string; worker: string | null; fields?: Record<string, unknown> | null }[];
}

// Event times do not follow the lifecycle strictly: Celery sends task-sent after publishing
// the task (a worker may report `received` first), and a prefork worker may report a quick
// task's outcome before its `started`. Compare timelines as sets of kinds.
const kindsOf = (d: Detail) => d.events.map((e) => e.kind).sort();
const kinds = (...k: string[]) => [...k].sort();

async function get<T>(svc: Service, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${svc.url}${path}`, { headers: authHeaders() });
  return { status: res.status, body: (await res.json()) as T };
}

const TERMINAL = ['succeeded', 'failed', 'revoked', 'rejected', 'expired'];

async function detail(svc: Service, id: string): Promise<Detail> {
  const res = await get<Detail>(svc, `/api/tasks/celery/${id}`);
  if (res.status !== 200) throw new Error(`task ${id}: ${res.status}`);
  return res.body;
}

async function finished(svc: Service, ids: string[]): Promise<Map<string, Detail>> {
  return eventually(async () => {
    const out = new Map<string, Detail>();
    for (const id of ids) {
      const d = await detail(svc, id);
      if (!TERMINAL.includes(d.task.state)) throw new Error(`task ${id} (${d.task.name}) is ${d.task.state}`);
      if (!d.events.some((e) => TERMINAL.includes(e.kind))) throw new Error(`task ${id} has no terminal event yet`);
      out.set(id, d);
    }
    return out;
  });
}

const combos: [string, StorageKind][] = [
  ['redis', 'postgres'],
  ['amqp', 'postgres'],
  ['redis', 'pglite'],
  ['amqp', 'pglite'],
];

describe.each(combos)('Celery on %s, stored in %s', (broker, storage) => {
  let celery: CeleryEnv;
  let config: Config;
  let svc: Service;
  let worker: Worker | null = null;
  let dataDir: string | null = null;
  let ids: ScenarioIds;
  let tasks: Map<string, Detail>;
  // The PGlite runs start their worker without -E (and with task events off in its config):
  // task events come only because the service's enable_events broadcast turned them on.
  const relyOnEnableEvents = storage === 'pglite';

  beforeAll(async () => {
    celery = isolatedCelery(broker === 'redis' ? REDIS_URL : AMQP_URL);
    const databaseUrl = storage === 'postgres' ? await createTestDatabase(`celery_${broker}`) : undefined;
    if (!databaseUrl) dataDir = mkdtempSync(join(tmpdir(), 'z4j-pglite-'));
    config = loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      Z4J_DATA_DIR: dataDir ?? './data',
      Z4J_CELERY_BROKERS: [celery.broker],
      Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange,
      Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_AMQP_QUEUE: `z4j.${celery.eventExchange}`,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: relyOnEnableEvents ? 2 : 0,
      Z4J_QUEUE_SAMPLE_INTERVAL: 1,
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    });
    svc = await startService(config, { log: pino({ level: 'warn' }) });
    worker = startWorker(celery, { sendEvents: !relyOnEnableEvents });
    // The worker announces itself (worker-online / heartbeats are sent even without -E).
    await eventually(async () => {
      const w = await get<{ workers: { hostname: string; online: boolean }[] }>(svc, '/api/workers');
      if (!w.body.workers.some((x) => x.hostname === worker!.hostname && x.online)) throw new Error(`worker not online yet:\n${worker!.output()}`);
    });
    if (relyOnEnableEvents) await sleep(3000); // two broadcast periods: events are on
    ids = await sendScenario(celery);
    tasks = await finished(svc, [ids.add, ids.fail, ids.flaky, ...ids.chain, ...ids.group]);
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('records a successful task with its times, worker, result and full timeline', () => {
    const { task } = tasks.get(ids.add)!;
    expect(task).toMatchObject({ state: 'succeeded', name: 'z4j.add', worker: worker!.hostname, queue: celery.queue, result: '5', retries: 0 });
    for (const t of [task.receivedAt, task.startedAt, task.finishedAt]) expect(t).toEqual(expect.any(String));
    expect(Date.parse(task.startedAt!)).toBeGreaterThanOrEqual(Date.parse(task.receivedAt!));
    expect(Date.parse(task.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(task.startedAt!));
    expect(task.runtimeMs).toBeGreaterThan(0);
    expect(task.waitMs).toBeGreaterThanOrEqual(0);
    expect(kindsOf(tasks.get(ids.add)!)).toEqual(kinds('enqueued', 'received', 'started', 'succeeded'));
  });

  it('records a failure with its exception and traceback', () => {
    const { task } = tasks.get(ids.fail)!;
    expect(task.state).toBe('failed');
    expect(task.exception).toMatch(/ValueError.*expected failure/);
    expect(task.traceback).toMatch(/Traceback/);
    expect(kindsOf(tasks.get(ids.fail)!)).toEqual(kinds('enqueued', 'received', 'started', 'failed'));
  });

  it('records a retry and the attempt that then succeeds, without the secret argument', () => {
    const { task, events } = tasks.get(ids.flaky)!;
    expect(task).toMatchObject({ state: 'succeeded', retries: 1, result: "'ok after 2 attempts'" });
    // Celery publishes the retry's message (enqueued/received of attempt 2) before it reports `retried`.
    const seen = events.map((e) => e.kind);
    const countOf = (k: string) => seen.filter((x) => x === k).length;
    expect([countOf('enqueued'), countOf('received'), countOf('started'), countOf('retried'), countOf('succeeded')]).toEqual([2, 2, 2, 1, 1]);
    expect(task.parentId).toBeNull();
    expect(JSON.stringify(tasks.get(ids.flaky))).not.toContain('hunter2');
  });

  it('links a chain by root and parent, and runs a group', () => {
    const [a, b, c] = ids.chain.map((id) => tasks.get(id)!.task);
    expect([a, b, c].map((t) => t!.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(b!.parentId).toBe(a!.taskId);
    expect(c!.parentId).toBe(b!.taskId);
    expect([a, b, c].map((t) => t!.rootId)).toEqual([a!.taskId, a!.taskId, a!.taskId]);
    expect(c!.result).toBe('7');
    expect(ids.group.map((id) => tasks.get(id)!.task.result)).toEqual(['0', '2', '4']);
  });

  it('draws the chain as a graph, and completes task names', async () => {
    const g = await get<{ rootId: string; truncated: boolean; nodes: { taskId: string; state: string }[]; edges: { from: string; to: string; kind: string }[] }>(
      svc, `/api/tasks/celery/${ids.chain[2]}/graph`);
    expect(g.status).toBe(200);
    expect(g.body.rootId).toBe(ids.chain[0]);
    expect(g.body.nodes.map((n) => n.taskId).sort()).toEqual([...ids.chain].sort());
    expect(g.body.edges).toEqual(expect.arrayContaining([
      { from: ids.chain[0], to: ids.chain[1], kind: 'chain' },
      { from: ids.chain[1], to: ids.chain[2], kind: 'chain' },
    ]));
    expect(g.body.edges).toHaveLength(2);
    const names = await get<{ names: string[] }>(svc, '/api/task-names?prefix=z4j.f');
    expect(names.body.names).toEqual(['z4j.fail', 'z4j.flaky']);
    expect((await get<{ names: string[] }>(svc, '/api/task-names?limit=1')).body.names).toEqual(['z4j.add']);
    expect((await get(svc, '/api/tasks/celery/no-such-task/graph')).status).toBe(404);
  });

  it('stores no secret in any column', async () => {
    const leaks = await svc.db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM tasks t WHERE t::text LIKE '%hunter2%')::int
            + (SELECT count(*) FROM task_events e WHERE e::text LIKE '%hunter2%')::int AS n`,
    );
    expect(leaks.rows[0]!.n).toBe(0);
  });

  it('lists the queue with a depth sample and finds the tasks by filter', async () => {
    await eventually(async () => {
      const q = await get<{ queues: { name: string; depth: number | null }[] }>(svc, '/api/queues');
      const mine = q.body.queues.find((x) => x.name === celery.queue);
      if (!mine || mine.depth === null) throw new Error(`no depth sample for ${celery.queue} yet`);
      expect(mine.depth).toBe(0);
    }, 15_000);
    const failed = await get<{ tasks: Task[] }>(svc, `/api/tasks?state=failed&queue=${celery.queue}`);
    expect(failed.body.tasks.map((t) => t.taskId)).toEqual([ids.fail]);
  });

  it("shows the worker's pool size, which Celery's heartbeats do not carry (asked with inspect stats)", async () => {
    await eventually(async () => {
      const w = await get<{ workers: { hostname: string; concurrency: number | null }[] }>(svc, '/api/workers');
      const mine = w.body.workers.find((x) => x.hostname === worker!.hostname);
      if (mine?.concurrency == null) throw new Error(`no pool size for ${worker!.hostname} yet`);
      expect(mine.concurrency).toBe(2); // startWorker's -c 2
    }, 15_000);
  });

  it('keeps history across a restart, and (on RabbitMQ) events sent while it was down', async () => {
    await svc.stop();
    let downIds: ScenarioIds | null = null;
    if (broker === 'amqp') downIds = await sendScenario(celery); // our durable queue holds them
    await sleep(broker === 'amqp' ? 3000 : 0);
    svc = await startService(config, { log: pino({ level: 'warn' }) });
    expect((await detail(svc, ids.add)).task.state).toBe('succeeded');
    if (downIds) {
      const later = await finished(svc, [downIds.add, downIds.fail]);
      expect(kindsOf(later.get(downIds.add)!)).toEqual(kinds('enqueued', 'received', 'started', 'succeeded'));
    }
  });

  it('marks a task the pool killed at its hard time limit timed out, with the exception its traceback names', async () => {
    const id = await sendTask(celery, 'z4j.limited', [30]);
    const d = (await finished(svc, [id])).get(id)!;
    expect(d.task.state).toBe('failed');
    // Celery's task-failed says "ExceptionWithTraceback()" (billiard's wrapper): the traceback names the exception.
    expect(d.task.exception).toMatch(/^TimeLimitExceeded: TimeLimitExceeded\(1/);
    const failed = d.events.filter((e) => e.kind === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.map((e) => e.fields?.timedOut)).toEqual(failed.map(() => true));
  });

  it('marks the worker offline when it stops', async () => {
    await worker!.stop();
    await eventually(async () => {
      const w = await get<{ workers: { hostname: string; online: boolean; offlineAt: string | null }[] }>(svc, '/api/workers');
      const me = w.body.workers.find((x) => x.hostname === worker!.hostname);
      if (!me || me.online || !me.offlineAt) throw new Error(`worker still online: ${JSON.stringify(me)}`);
    }, 30_000);
  });
});
