// The contract for actions that go through the agent command channel: a real worker of the
// engine with the agent installed, the service consuming the agent's stream on the engine's own
// Redis (one service per Redis DB: its stream consumer takes every z4j:events:* stream there),
// and actions asked through the API. Retry: a task that failed on its first run, with a secret
// kwarg, is retried from z4j and succeeds with its original arguments, linked to the original.
// Terminate: a long task stops at once, is revoked with the reason, never finishes, and the
// worker carries on with the next task. Cancel (through the agents, where the broker cannot take
// one message out of its queue): a task waiting behind a busy single-slot worker never runs.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/ingest/envelope.js';
import { startService, type Service } from '../../src/service.js';
import { agentKeyEntry, testAgent } from './agentBatches.js';
import { notApplicable } from './agentEngine.js';
import { authHeaders, TEST_PROXY_SECRET } from './auth.js';
import { uniqueQueue, type PyProcess } from './pyapp.js';
import { createTestDatabase, tablesHolding } from './storage.js';
import { eventually, sleep } from './wait.js';


export const SECRET = 'hunter2-secret';

export interface AgentActionsUnderTest {
  engine: Engine;
  /** The engine's broker: the driver acts on it, the agent streams to it and takes commands from it. */
  redisUrl: string;
  /** On RabbitMQ: the agent publishes its batches to this queue (one per test file) instead of a Redis stream. */
  amqp?: { url: string; queue: string };
  /** The service settings that make its driver for this engine (e.g. Z4J_HUEY_REDIS_URL). */
  driver: Record<string, string>;
  startWorker(queue: string, env: Record<string, string>): PyProcess;
  /** Sends task `name` from a producer with the agent on; its id. */
  send(queue: string, name: string, args: unknown[], kwargs: Record<string, unknown>, env: Record<string, string>): Promise<string>;
  /** A Redis value the test app wrote (z4j-test-long-finished:<key>, …). */
  get(queue: string, key: string): Promise<string | null>;
  /** fail_once(key, password): fails once, then answers "ok after 2 runs, password intact". Call covers() inside. */
  retry?: () => void;
  /** long(key, seconds): a long task in short steps. Call covers() inside. */
  terminate?: () => void;
  /** After a terminate: the message was not retried by the engine (Dramatiq's Retries). */
  notRetried?: (queue: string, key: string) => Promise<void>;
  /** Cancel through the agents: count(key) bumps a Redis counter, `runs` reads it; the worker runs one task at a time. Call covers() inside. */
  cancel?: () => void;
  runs?: (queue: string, key: string) => Promise<number>;
  /** Before the cancel: waits until the worker took the waiting task from the broker (where the broker path would otherwise cancel it). */
  taken?: (queue: string) => Promise<void>;
  /**
   * The worker's engine takes the waiting task from the broker into its own hands while another
   * runs (taskiq before 0.12.5): past the point where the agent skips a message, so the cancel is
   * refused with this message and the task runs.
   */
  cancelTooLate?: RegExp;
  /** flaky(key): fails its first run straight into the dead letters, succeeds after. Requeued from z4j. Call covers() inside. */
  requeue?: () => void;
  /** A task the agent cannot stop, and what it says. */
  unstoppable?: { task: string; message: RegExp };
}

interface Command { id: number; state: string; outcome: Record<string, unknown> | null }
interface TaskDetail { task: { state: string; hasPayload: boolean; name: string | null; queue: string | null; result: unknown; retryOf: string | null; retriedAs: string[]; worker: string | null }; events: { kind: string; fields: Record<string, unknown> }[] }

export function describeAgentActions(e: AgentActionsUnderTest): void {
  jest.setTimeout(180_000);

  describe(`${e.engine} actions through the agent command channel`, () => {
    const agent = testAgent();
    const queue = uniqueQueue(`cmd_${e.engine}`);
    const env: Record<string, string> = {
      Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project,
      Z4J_HEARTBEAT_INTERVAL: '0.5', Z4J_FLUSH_INTERVAL: '0.05',
    };
    let svc: Service;
    let worker: PyProcess;

    async function call<T>(method: string, path: string, key: string | null = randomUUID(), body?: unknown, role: 'operator' | 'admin' = 'operator'): Promise<{ status: number; body: T }> {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...authHeaders(role) };
      if (key) headers['idempotency-key'] = key;
      const res = await fetch(`${svc.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as T };
    }
    const task = async (id: string) => {
      const r = await call<TaskDetail>('GET', `/api/tasks/${e.engine}/${id}`, null);
      if (r.status !== 200) throw new Error(`task ${id}: ${r.status}`);
      return r.body;
    };
    /** Polls the task until `ready` holds; `waitingFor` says what for when it never does. */
    const taskUntil = (id: string, waitingFor: string, ready: (d: TaskDetail) => boolean) => eventually(async () => {
      const d = await task(id);
      if (!ready(d)) throw new Error(`task ${id} is ${d.task.state} with events ${d.events.map((ev) => ev.kind).join(',')}, waiting for ${waitingFor}\n${worker.output().slice(-2000)}`);
      return d;
    }, 90_000, 200);
    const taskInState = (id: string, ...states: string[]) => taskUntil(id, states.join('/'), (d) => states.includes(d.task.state));
    const act = async (id: string, action: string) => {
      const r = await call<{ command: Command }>('POST', `/api/tasks/${e.engine}/${id}/actions/${action}`);
      expect(r.status).toBe(202);
      return r.body.command;
    };
    const settles = (id: number) => eventually(async () => {
      const r = await call<{ command: Command }>('GET', `/api/commands/${id}`, null);
      if (['pending', 'dispatched'].includes(r.body.command.state)) throw new Error(`command ${id} still ${r.body.command.state}`);
      return r.body.command;
    }, 60_000, 200);

    beforeAll(async () => {
      svc = await startService(loadConfig({}, {
        PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase(`agent_cmd_${e.engine}`),
        ...(e.amqp ? { Z4J_AGENT_AMQP_URLS: [e.amqp.url], Z4J_AGENT_AMQP_QUEUE: e.amqp.queue } : { Z4J_AGENT_REDIS_URLS: [e.redisUrl] }), Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_CELERY_BROKERS: [],
        Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET, Z4J_COMMAND_TIMEOUT: 60, Z4J_QUEUE_SAMPLE_INTERVAL: 1, ...e.driver,
      }), { log: pino({ level: 'silent' }) });
      if (e.amqp) env.Z4J_AMQP_QUEUE = e.amqp.queue;
      worker = e.startWorker(queue, env);
      // The worker's agent announces its command channel with worker-online.
      await eventually(async () => {
        const rows = (await svc.db.query('SELECT 1 FROM agent_workers WHERE engine = $1', [e.engine])).rows;
        if (!rows.length) throw new Error(`no ${e.engine} worker takes commands yet\n${worker.output().slice(-2000)}`);
      }, 60_000, 200);
    });
    afterAll(async () => {
      await worker?.stop();
      await svc?.stop();
    });

    (e.retry ? test : notApplicable)('a failed task retried from z4j runs again with its original arguments (the secret too), linked to the original', async () => {
      e.retry!();
      const key = randomUUID();
      const id = await e.send(queue, 'fail_once', [key], { password: SECRET }, env);
      // A retry re-sends the call the agent sealed with the task's enqueue: a batch of the producer's,
      // which the service may store after the worker's outcome (see the rerun below).
      const failed = await taskUntil(id, 'failed, its call stored', (d) => d.task.state === 'failed' && d.task.hasPayload);
      expect(JSON.stringify(failed)).not.toContain(SECRET);
      const command = await act(id, 'retry');
      const settled = await settles(command.id);
      expect([settled.state, settled.outcome?.via]).toEqual(['succeeded', 'agent']);
      const newId = String(settled.outcome?.newTaskId);
      expect(newId).not.toBe(id);
      // The rerun's enqueue is reported from where the command ran, its outcome from the worker that
      // ran it: batches the service may store in either order, so wait for both.
      const rerun = await taskUntil(newId, 'succeeded and enqueued', (d) => d.task.state === 'succeeded' && d.events.some((ev) => ev.kind === 'enqueued'));
      expect(String(rerun.task.result)).toMatch(/ok after 2 runs, password intact/);
      expect(rerun.task.retryOf).toBe(id);
      // The agent reported the enqueue, not z4j: one enqueued line, with z4j's reason on it.
      expect(rerun.events.filter((ev) => ev.kind === 'enqueued').map((ev) => ev.fields.reason)).toEqual([expect.stringMatching(new RegExp(`^retry of ${id} from z4j by `))]);
      expect((await task(id)).task.retriedAs).toEqual([newId]);
      // A second click with another key retries again; the same key acts once.
      const key2 = randomUUID();
      const again = await call<{ command: Command }>('POST', `/api/tasks/${e.engine}/${id}/actions/retry`, key2);
      const twice = await call<{ command: Command }>('POST', `/api/tasks/${e.engine}/${id}/actions/retry`, key2);
      expect(twice.body.command.id).toBe(again.body.command.id);
      await settles(again.body.command.id);
    });

    (e.requeue ? test : notApplicable)('a dead letter requeued from z4j shows waiting again and reruns as a new attempt, to its new outcome', async () => {
      e.requeue!();
      const key = randomUUID();
      const id = await e.send(queue, 'flaky', [key], {}, env);
      // Rejected is reported after the broker took the nack that dead-letters it.
      await taskUntil(id, 'failed and dead-lettered', (d) => d.task.state === 'failed' && d.events.some((ev) => ev.kind === 'rejected'));
      const r = await call<{ command: Command }>('POST', `/api/queues/${e.engine}/${queue}/requeue-dead-letters`);
      expect([r.status, r.body.command.state, r.body.command.outcome?.requeued]).toEqual([202, 'succeeded', 1]);
      const d = await taskInState(id, 'succeeded');
      const requeued = d.events.filter((ev) => ev.kind === 'enqueued' && String(ev.fields.reason).startsWith('requeued from the dead letters by '));
      expect(requeued.map((ev) => ev.fields.retries)).toEqual([1]);
      // The rerun is attempt 1, as the agent in the worker reports it: its outcome is the task's state.
      expect(d.events.filter((ev) => ev.kind === 'succeeded').map((ev) => ev.fields.retries)).toEqual([1]);
      expect(await e.get(queue, `z4j-test-dq-runs:${key}`)).toBe('2');
    });

    (e.terminate ? test : notApplicable)('a running task terminated from z4j stops, is revoked with the reason, never finishes, and the worker carries on', async () => {
      e.terminate!();
      const key = randomUUID();
      const id = await e.send(queue, 'long', [key, 60], {}, env);
      await taskInState(id, 'started');
      await sleep(300);
      const t0 = Date.now();
      const command = await act(id, 'terminate');
      const settled = await settles(command.id);
      expect(settled.state).toBe('succeeded');
      expect(Date.now() - t0).toBeLessThan(15_000);
      const d = await taskInState(id, 'revoked');
      expect(d.events.find((ev) => ev.kind === 'revoked')?.fields.reason).toBe('terminated from z4j');
      await sleep(1500);
      expect(await e.get(queue, `z4j-test-long-finished:${key}`)).toBeNull();
      if (e.notRetried) await e.notRetried(queue, key);
      // The same worker runs the next task to the end: nothing leaked into it.
      const next = randomUUID();
      const nextId = await e.send(queue, 'long', [next, 0.3], {}, env);
      await taskInState(nextId, 'succeeded');
      expect(await e.get(queue, `z4j-test-long-finished:${next}`)).toBe('1');
      expect((await task(id)).task.state).toBe('revoked');
    });

    (e.cancel ? test : notApplicable)('a task waiting behind a busy worker, cancelled from z4j, never runs: revoked, the command succeeded and audited; a started one is refused', async () => {
      e.cancel!();
      const busy = randomUUID();
      // Long enough for the waiting task's enqueue to reach z4j and the cancel to follow on a busy box.
      const busyId = await e.send(queue, 'long', [busy, 6], {}, env);
      await taskInState(busyId, 'started');
      const key = randomUUID();
      const id = await e.send(queue, 'count', [key], {}, env);
      await taskInState(id, 'enqueued');
      if (e.taken) await e.taken(queue);
      const command = await act(id, 'cancel');
      const settled = await settles(command.id);
      if (e.cancelTooLate) {
        expect(settled).toMatchObject({ state: 'failed', outcome: { code: 'STARTED', message: expect.stringMatching(e.cancelTooLate) } });
        await taskInState(id, 'succeeded');
        expect(await e.runs!(queue, key)).toBe(1);
        return;
      }
      expect(settled.state).toBe('succeeded');
      expect(settled.outcome).toMatchObject({ via: 'agent', remembered: true, takenBy: expect.any(String), workers: [settled.outcome?.takenBy] });
      // The worker takes it once the busy task is done, and skips it.
      const d = await taskInState(id, 'revoked');
      expect(d.events.find((ev) => ev.kind === 'revoked')?.fields.reason).toBe('cancelled from z4j');
      expect(d.events.map((ev) => ev.kind)).not.toContain('started');
      await taskInState(busyId, 'succeeded');
      // The worker carries on with the next task; the cancelled one never ran.
      const next = randomUUID();
      await taskInState(await e.send(queue, 'count', [next], {}, env), 'succeeded');
      expect([await e.runs!(queue, key), await e.runs!(queue, next)]).toEqual([0, 1]);
      // Audited: the request, and the outcome the worker's agent reported.
      const audited = (await svc.db.query<{ action: string; outcome: string; actor_kind: string; detail: Record<string, unknown> }>(
        'SELECT action, outcome, actor_kind, detail FROM audit_log WHERE target = $1', [`${e.engine}/${id}`])).rows;
      expect(audited).toHaveLength(2);
      expect(audited).toEqual(expect.arrayContaining([
        expect.objectContaining({ action: 'task.cancel', outcome: 'ok', actor_kind: 'user', detail: expect.objectContaining({ commandId: command.id }) }),
        expect.objectContaining({ action: 'task.cancel', outcome: 'ok', actor_kind: 'system', detail: expect.objectContaining({ commandId: command.id, state: 'succeeded' }) }),
      ]));
      // A task already running is not cancelled, and the command says so.
      const running = await e.send(queue, 'long', [randomUUID(), 2], {}, env);
      await taskInState(running, 'started');
      const refused = await act(running, 'cancel');
      expect([refused.state, refused.outcome?.message]).toEqual(['failed', 'cannot cancel a task that is started']);
      await taskInState(running, 'succeeded');
    });

    (e.unstoppable ? test : notApplicable)('a task the agent cannot stop: the command fails and says why', async () => {
      const id = await e.send(queue, e.unstoppable!.task, [randomUUID(), 3], {}, env);
      await taskInState(id, 'started');
      const settled = await settles((await act(id, 'terminate')).id);
      expect(settled.state).toBe('failed');
      expect(String(settled.outcome?.message)).toMatch(e.unstoppable!.message);
      await taskInState(id, 'succeeded');
    });

    (e.terminate ? test : notApplicable)('without a live agent in the worker running it, terminate fails plainly', async () => {
      const id = randomUUID();
      await svc.pipeline.offer('test', { v: 1, type: 'task', id: `ev-${id}`, engine: e.engine, project: agent.project, kind: 'started', taskId: id, worker: 'gone@nowhere:1', occurredAt: Date.now(), fields: { name: 'long', queue } });
      await eventually(async () => expect((await task(id)).task.state).toBe('started'), 10_000, 100);
      const c = await act(id, 'terminate');
      expect(c.state).toBe('failed');
      expect(c.outcome?.code).toBe('NO_AGENT');
    });

    test("the worker's queue is listed with its depth, sampled from the broker through the engine's driver", async () => {
      await e.send(queue, 'count', [randomUUID()], {}, env); // a queue the project has seen, whatever ran before
      const sampled = await eventually(async () => {
        const r = await call<{ queues: { name: string; depth: number | null; depthAt: string | null }[] }>('GET', `/api/queues?engine=${e.engine}`, null);
        const found = r.body.queues.filter((q) => q.depth !== null);
        if (!found.length) throw new Error(`no ${e.engine} queue with a depth yet: ${JSON.stringify(r.body.queues)}`);
        return found;
      }, 30_000, 200);
      for (const q of sampled) expect([q.name, Number.isInteger(q.depth) && q.depth! >= 0, Date.now() - Date.parse(q.depthAt!) < 60_000]).toEqual([q.name, true, true]);
    });

    test('the planted secret is in no stored column', async () => {
      expect(await tablesHolding(svc.db, SECRET)).toEqual([]);
    });
  });
}
