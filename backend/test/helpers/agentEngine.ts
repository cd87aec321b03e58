// The contract every engine integration of the Python agent passes: a real worker of the
// engine with the agent installed, and a producer with it too, send tasks that succeed, fail,
// retry then succeed, and the engine's composition primitive; the service (consuming the
// agent's Redis stream or RabbitMQ queue) must store complete, linked lifecycles, the worker's
// online / heartbeat / offline, sealed retry payloads, and no planted secret anywhere.
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/ingest/envelope.js';
import { startService, type Service } from '../../src/service.js';
import { agentKeyEntry, testAgent } from './agentBatches.js';
import { TEST_PROXY_SECRET, authHeaders } from './auth.js';
import type { PyProcess } from './pyapp.js';
import { createTestDatabase, tablesHolding } from './storage.js';
import { eventually } from './wait.js';

/** What an engine cannot do gets no test at all, rather than a skipped one that can never fail. */
export const notApplicable = ((_name: string, _fn: () => Promise<void>) => undefined) as unknown as typeof test;

export const SECRET = 'hunter2-secret';

/** Task ids the producer script prints. Every task gets the kwarg password=SECRET. */
export interface Sent {
  succeed: string;
  fail: string;
  retry: string;
  /** A chain: each runs after (and is linked to) the one before. */
  chain: string[];
  /** Members of one group (same groupId), when the engine has groups. */
  group?: string[];
  /** A task that runs past its time limit, when the engine has time limits. */
  timeLimited?: string;
}

export interface EngineUnderTest {
  engine: Engine;
  /**
   * Where the agents publish: the service consumes this Redis stream, or this RabbitMQ server's
   * `queue` (one per test file: files run in parallel and must not take each other's batches).
   */
  transport: { redis: string } | { amqp: string; queue: string };
  /** Starts a worker with the agent on (env holds the Z4J_* settings). */
  startWorker(env: Record<string, string>): PyProcess;
  /** Sends every scenario through a producer with the agent on. */
  send(env: Record<string, string>): Promise<Sent>;
  /** The exception text of `fail` (default "ValueError: boom"). */
  failure?: RegExp;
  /** Whether the engine has groups (then `send` returns `group`). */
  groups?: boolean;
  /** Whether the engine (at the installed version) stops a task at a time limit (then `send` returns `timeLimited`). */
  timeLimits?: boolean;
  /** Worker name as the agent reports it, when the test knows it. */
  workerName?: string;
}

export interface TaskRow {
  task_id: string;
  state: string;
  name: string | null;
  queue: string | null;
  worker: string | null;
  attempt: number;
  retries: number;
  runtime_ms: number | null;
  root_id: string | null;
  parent_id: string | null;
  group_id: string | null;
  exception: string | null;
  traceback: string | null;
  result: unknown;
  args: unknown;
  kwargs: unknown;
  sent_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
}

export function describeAgentEngine(label: string, e: EngineUnderTest): void {
  jest.setTimeout(180_000);

  describe(`the agent on ${label}: lifecycles from a real worker`, () => {
    const agent = testAgent();
    let svc: Service;
    let worker: PyProcess;
    let sent: Sent;
    const env: Record<string, string> = {
      Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project,
      Z4J_HEARTBEAT_INTERVAL: '0.5', Z4J_FLUSH_INTERVAL: '0.05',
    };

    const task = (id: string) => svc.db.query<TaskRow>('SELECT * FROM tasks WHERE task_id = $1', [id]).then((r) => r.rows[0]);
    // Settled: in its final state with its start stored (and, with `enqueue`, the producer's
    // enqueue). Not one or the other: batches are stored as they come through, not in the order
    // they were sent. The producer's and the worker's travel separately; and the service checks
    // two batches of one agent at once, so the one with the task's start (sent before it ran) can
    // be stored after the one with its outcome, when its lookups (agent key, project) take longer.
    const settled = (id: string, state = 'succeeded', enqueue = false) => eventually(async () => {
      const row = await task(id);
      if (row?.state !== state || row.started_at === null || (enqueue && row.sent_at === null)) {
        const seen = row ? `${row.state} (started at ${row.started_at}, sent at ${row.sent_at})` : 'unknown';
        throw new Error(`task ${id} is ${seen}, waiting for ${state}, its start${enqueue ? ' and its enqueue' : ''}\n${worker?.output().slice(-3000)}`);
      }
      return row;
    }, 90_000, 250);
    const kinds = async (id: string) => (await svc.db.query<{ kind: string }>('SELECT kind FROM task_events WHERE task_id = $1 ORDER BY occurred_at, event_id', [id])).rows.map((r) => r.kind);

    beforeAll(async () => {
      const where = 'redis' in e.transport
        ? { Z4J_AGENT_REDIS_URLS: [e.transport.redis] }
        : { Z4J_AGENT_AMQP_URLS: [e.transport.amqp], Z4J_AGENT_AMQP_QUEUE: e.transport.queue };
      if ('queue' in e.transport) env.Z4J_AMQP_QUEUE = e.transport.queue;
      svc = await startService(loadConfig({}, {
        PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase(`agent_${label}`),
        ...where, Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_CELERY_BROKERS: [],
        Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
      }), { log: pino({ level: 'silent' }) });
      worker = e.startWorker(env);
      sent = await e.send(env);
    });
    afterAll(async () => {
      await worker?.stop();
      await svc?.stop();
    });

    test('a task that succeeds: enqueued → started → succeeded, with runtime, worker, result and a sealed payload', async () => {
      const row = await settled(sent.succeed, 'succeeded', true);
      expect(row.name).toBeTruthy();
      expect(row.queue).toBeTruthy();
      expect(row.worker).toBeTruthy();
      if (e.workerName) expect(row.worker).toBe(e.workerName);
      expect(row.runtime_ms).not.toBeNull();
      expect(row.sent_at).not.toBeNull();
      expect(row.started_at).not.toBeNull();
      expect(row.finished_at).not.toBeNull();
      expect(row.result).toBe(5);
      expect(row.args).toEqual([2, 3]);
      expect(row.kwargs).toEqual({ password: '[redacted]' });
      expect(await kinds(sent.succeed)).toEqual(expect.arrayContaining(['enqueued', 'started', 'succeeded']));
      const sealed = await svc.db.query('SELECT 1 FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL', [sent.succeed]);
      expect(sealed.rows).toHaveLength(1);
    });

    test('a task that fails: exception type and message, traceback', async () => {
      const row = await settled(sent.fail, 'failed');
      expect(row.exception).toMatch(e.failure ?? /^ValueError: boom/);
      expect(row.traceback).toMatch(/Traceback|boom/);
      expect(row.worker).toBeTruthy();
    });

    test('a task that fails once, is retried by the engine, then succeeds', async () => {
      const row = await settled(sent.retry);
      expect(row.attempt).toBe(1);
      expect(row.retries).toBe(1);
      // The first attempt's events may be stored after the second's (see `settled`).
      const k = await eventually(async () => {
        const seen = await kinds(sent.retry);
        if (!seen.includes('retried') || seen.filter((x) => x === 'started').length < 2) throw new Error(`events so far: ${seen.join(', ')}`);
        return seen;
      }, 30_000, 250);
      expect(k.filter((x) => x === 'started')).toHaveLength(2);
      const retried = (await svc.db.query<{ fields: { exception?: string } }>(`SELECT fields FROM task_events WHERE task_id = $1 AND kind = 'retried'`, [sent.retry])).rows[0]!;
      expect(retried.fields.exception).toMatch(/first attempt/);
    });

    test('a chain: every step succeeded, linked to the one before and to the first; its workflow is whole', async () => {
      const [first, ...rest] = sent.chain;
      await settled(first!);
      let parent = first!;
      for (const id of rest) {
        const row = await settled(id);
        expect(row.parent_id).toBe(parent);
        // Never a wrong root. None where no agent could name it and the service's write that
        // takes it from the parent raced the parent's (a Huey step handed to another process).
        expect([first, null]).toContain(row.root_id);
        parent = id;
      }
      // The workflow, found from its last step (by parents where a root is missing), holds every step.
      const res = await fetch(`${svc.url}/api/tasks/${e.engine}/${parent}/graph`, { headers: authHeaders('viewer') });
      const graph = (await res.json()) as { rootId: string; nodes: { taskId: string }[]; edges: { from: string; to: string; kind: string }[] };
      expect(graph.rootId).toBe(first);
      expect(graph.nodes.map((n) => n.taskId)).toEqual(expect.arrayContaining(sent.chain));
      const chain = sent.chain.slice(1).map((id, i) => ({ from: sent.chain[i], to: id, kind: 'chain' }));
      expect(graph.edges).toEqual(expect.arrayContaining(chain));
    });

    (e.timeLimits ? test : notApplicable)('a task stopped at its time limit: failed, marked timed out, with the engine\'s exception', async () => {
      const row = await settled(sent.timeLimited!, 'failed');
      expect(row.exception).toMatch(/time ?out|time ?limit/i);
      expect(row.worker).toBeTruthy();
      // Stopped at its 1 s limit (Dramatiq checks each second), not before, and long before the 30 s it asked for.
      expect(row.runtime_ms).toBeGreaterThanOrEqual(900);
      expect(row.runtime_ms).toBeLessThan(10_000);
      const failed = await svc.db.query<{ timed_out: string | null }>(`SELECT fields->>'timedOut' AS timed_out FROM task_events WHERE task_id = $1 AND kind = 'failed'`, [sent.timeLimited]);
      expect(failed.rows.map((r) => r.timed_out)).toEqual(['true']);
    });

    (e.groups ? test : notApplicable)('a group: every member succeeded under one group id', async () => {
      const rows = await Promise.all(sent.group!.map((id) => settled(id)));
      expect(rows[0]!.group_id).toBeTruthy();
      expect(new Set(rows.map((r) => r.group_id)).size).toBe(1);
    });

    test('the worker: online with heartbeats', async () => {
      const w = await eventually(async () => {
        const rows = (await svc.db.query<{ hostname: string; online: boolean; heartbeat_s: number | null; software: string | null }>(
          'SELECT hostname, online, heartbeat_s, software FROM workers WHERE engine = $1', [e.engine])).rows;
        const beating = rows.find((r) => r.online && r.heartbeat_s !== null);
        if (!beating) throw new Error(`no worker with heartbeats: ${JSON.stringify(rows)}`);
        return beating;
      }, 30_000, 250);
      if (e.workerName) expect(w.hostname).toBe(e.workerName);
    });

    test('the planted secret is in no stored column', async () => {
      await settled(sent.retry);
      expect(await tablesHolding(svc.db, SECRET)).toEqual([]);
    });

    test('the worker goes offline when stopped', async () => {
      await worker.stop();
      await eventually(async () => {
        const rows = (await svc.db.query<{ online: boolean }>('SELECT online FROM workers WHERE engine = $1', [e.engine])).rows;
        if (!rows.length || rows.some((r) => r.online)) throw new Error(`workers still online: ${JSON.stringify(rows)}; the worker's last output:\n${worker.output().slice(-2000)}`);
      }, 30_000, 250);
    });
  });
}
