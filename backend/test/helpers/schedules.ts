// The contract for schedules on a real engine: a schedule created through the API, with a call
// of every kind of value JSON carries and a secret, is run now and then fired by its cron; each
// time z4j sends it as a new task (straight to the broker or through the worker's agent, as the
// engine's driver declares) and a real worker runs it with the exact args and kwargs: the test
// app's echo task records every call it gets, in Redis. Each run is recorded as sent, its task
// is shown run with the schedule as the reason on its one enqueued line, the writes are
// audited, and the secret is in no stored column.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/db.js';
import type { Engine } from '../../src/ingest/envelope.js';
import { startService, type Service } from '../../src/service.js';
import { agentKeyEntry, testAgent } from './agentBatches.js';
import { notApplicable } from './agentEngine.js';
import { authHeaders, TEST_PROXY_SECRET } from './auth.js';
import { createTestDatabase, tablesHolding } from './storage.js';
import { eventually } from './wait.js';

export const SCHEDULE_SECRET = 'hunter2-scheduled';

/** What JSON can say, each as Python should get it (ECHO_TYPES: the type Python gives each). */
const ECHO_ARGS = [1, -1, 2147483648, -9007199254740991, 0.5, -1e300, 'héllo ✓ 🎉', '', true, false, null, [], {}, [1, [2, { deep: [null] }]]];
const ECHO_TYPES = ['int', 'int', 'int', 'int', 'float', 'float', 'str', 'str', 'bool', 'bool', 'NoneType', 'list', 'dict', 'list'];
const ECHO_KWARGS = { password: SCHEDULE_SECRET, nested: { list: ['a', 1.25], 'ünï': -129 } };

/** What the test app's echo(key, *args, **kwargs) records of one call. */
interface Echoed { args: unknown[]; kwargs: Record<string, unknown>; types: string[] }

export interface SchedulesUnderTest {
  /** Names the describe and the test database. */
  label: string;
  engine: Engine;
  /** The service settings that give it this engine: its driver, and where its own events come from (Celery's). */
  settings: Record<string, unknown>;
  /** Where the worker's z4j agent publishes (one Redis DB or AMQP queue per test file); none: the engine reports its tasks itself. */
  agent?: { redis: string } | { amqp: string; queue: string };
  /** The app's echo task, by the name its workers know it, and the queue the schedule sends to. */
  taskName: string;
  queue: string;
  /** The Redis the echo task writes to. */
  echoRedis: string;
  /** Starts a worker of `queue` (env: the agent's settings, when there is an agent). */
  startWorker(env: Record<string, string>): { output(): string; stop(): Promise<void> };
  /** Resolves once what is sent to the queue reaches the worker started before the test (a RabbitMQ queue its worker declared). */
  ready?(): Promise<void>;
  /** Records what the application sent before, in the service's database (RQ: a schedule may send only a task seen on RQ). */
  seen?(db: Db): Promise<void>;
  /** Task names a schedule of this engine is refused (400 UNKNOWN_TASK): what its workers must not be sent. */
  refused?: string[];
  /** Checks what run now left on the broker, before any worker runs: the worker starts after it. */
  waiting?(taskId: string, args: unknown[], kwargs: Record<string, unknown>): Promise<void>;
}

interface Run { id: string; trigger: string; state: string; taskId: string | null; commandId: string | null; error: string | null; dueAt: string | null }
interface Command { kind: string; target: string; state: string; outcome: Record<string, unknown> | null }
interface TaskDetail { task: { state: string; name: string | null; queue: string | null }; events: { kind: string; fields: Record<string, unknown> }[] }

export function describeSchedules(e: SchedulesUnderTest): void {
  jest.setTimeout(180_000);

  describe(`a schedule on ${e.label}`, () => {
    const agent = testAgent();
    const env: Record<string, string> = e.agent
      ? { Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project, Z4J_HEARTBEAT_INTERVAL: '0.5', Z4J_FLUSH_INTERVAL: '0.05', ...('amqp' in e.agent ? { Z4J_AMQP_QUEUE: e.agent.queue } : {}) }
      : {};
    const redis = new Redis(e.echoRedis, { lazyConnect: true });
    let svc: Service;
    let worker: ReturnType<SchedulesUnderTest['startWorker']> | undefined;

    async function call<T>(method: string, path: string, body?: unknown, role: 'viewer' | 'operator' | 'admin' = 'viewer'): Promise<{ status: number; body: T }> {
      const res = await fetch(`${svc.url}${path}`, { method, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...authHeaders(role) }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as T };
    }
    const output = () => worker?.output().slice(-2000) ?? 'no worker yet';
    /** The schedule's first run `which` picks, once it is no longer on its way. */
    const sentRun = (id: string, which: (r: Run) => boolean) => eventually(async () => {
      const runs = (await call<{ runs: Run[] }>('GET', `/api/schedules/${id}/runs`)).body.runs;
      const run = runs.find(which);
      if (!run || run.state === 'sending' || run.state === 'dispatched') throw new Error(`run not sent yet: ${JSON.stringify(runs)}\n${output()}`);
      return run;
    }, 60_000, 200);
    const echoed = (key: string, times: number) => eventually(async () => {
      const calls = (await redis.lrange(`z4j-test-echo:${key}`, 0, -1)).map((c) => JSON.parse(c) as Echoed);
      if (calls.length < times) throw new Error(`echo ran ${calls.length} times, waiting for ${times}\n${output()}`);
      return calls;
    }, 60_000, 200);
    // The send and the run are reported by different processes (the service or the agent that sent
    // it, the worker that ran it), which the service may store in either order: wait for both.
    const ranTask = (id: string) => eventually(async () => {
      const r = await call<TaskDetail>('GET', `/api/tasks/${e.engine}/${id}`);
      const sent = r.body.events?.some((ev) => ev.kind === 'enqueued');
      if (r.body.task?.state !== 'succeeded' || !sent) throw new Error(`task ${id} is ${r.body.task?.state ?? r.status}${sent ? '' : ', its enqueue not stored'}, waiting for succeeded and enqueued\n${output()}`);
      return r.body;
    }, 60_000, 200);
    /** A run of schedule `id` sent: its command settled so, its task run and shown with `reason` on its one enqueued line. */
    const shownAsSent = async (id: string, run: Run, viaAgent: boolean, reason: string) => {
      expect(run).toMatchObject({ state: 'sent', error: null, taskId: expect.any(String), commandId: expect.any(String) });
      const command = (await call<{ command: Command }>('GET', `/api/commands/${run.commandId}`)).body.command;
      expect(command).toMatchObject({ kind: 'schedule.run', target: id, state: 'succeeded', outcome: expect.objectContaining({ newTaskId: run.taskId, ...(viaAgent ? { via: 'agent' } : {}) }) });
      const r = await ranTask(run.taskId!);
      expect(r.task).toMatchObject({ name: e.taskName, queue: e.queue });
      expect(r.events.filter((ev) => ev.kind === 'enqueued').map((ev) => ev.fields.reason)).toEqual([reason]);
    };

    beforeAll(async () => {
      const transport = !e.agent ? {} : 'amqp' in e.agent ? { Z4J_AGENT_AMQP_URLS: [e.agent.amqp], Z4J_AGENT_AMQP_QUEUE: e.agent.queue } : { Z4J_AGENT_REDIS_URLS: [e.agent.redis] };
      svc = await startService(loadConfig({}, {
        PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase(`schedules_${e.label}`), Z4J_CELERY_BROKERS: [],
        ...transport, Z4J_AGENT_KEYS: e.agent ? [agentKeyEntry(agent)] : [],
        Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET, Z4J_SCHEDULER_INTERVAL: 1, ...e.settings,
      }), { log: pino({ level: 'warn' }) });
      await redis.connect();
      await e.seen?.(svc.db);
      if (e.waiting) return;
      worker = e.startWorker(env);
      // The worker's agent announces itself (and its command channel) with worker-online.
      if (e.agent) {
        await eventually(async () => {
          if (!(await svc.db.query('SELECT 1 FROM agent_workers WHERE engine = $1', [e.engine])).rows.length) throw new Error(`no ${e.engine} worker announced yet\n${output()}`);
        }, 60_000, 200);
      }
      await e.ready?.();
    });
    const echoKeys: string[] = [];
    afterAll(async () => {
      await worker?.stop();
      await svc?.stop();
      // The echo task's lists, so that the tests' Redis DBs do not fill up run after run.
      if (echoKeys.length && redis.status === 'ready') await redis.del(...echoKeys.map((k) => `z4j-test-echo:${k}`));
      redis.disconnect();
    });

    (e.refused ? test : notApplicable)('a task its workers must not be sent is refused: 400 UNKNOWN_TASK', async () => {
      for (const taskName of e.refused!) {
        const r = await call<{ error: { code: string } }>('POST', '/api/schedules', { name: `x-${taskName}`, engine: e.engine, taskName, args: ['id'], queue: e.queue, cron: '@daily' }, 'admin');
        expect([taskName, r.status, r.body.error.code]).toEqual([taskName, 400, 'UNKNOWN_TASK']);
      }
    });

    test('run now and its cron each send the exact call, a real worker runs it; each run is sent, its task shown with the schedule as its reason; audited', async () => {
      const key = randomUUID();
      echoKeys.push(key);
      const name = `echo-${e.engine}`;
      const created = await call<{ schedule: { id: string; kwargs: Record<string, unknown> } }>('POST', '/api/schedules', {
        name, engine: e.engine, taskName: e.taskName, args: [key, ...ECHO_ARGS], kwargs: ECHO_KWARGS, queue: e.queue, cron: '0 3 * * *', timezone: 'Europe/Paris',
      }, 'admin');
      expect(created.status).toBe(201);
      expect(created.body.schedule.kwargs.password).toBe('[redacted]');
      const id = created.body.schedule.id;
      const viaAgent = svc.actions.drivers.get(e.engine)?.capabilities['task.retry']?.via === 'agent';

      // Run now: sent straight to the broker at once, or dispatched to the agent, which enqueues it.
      const now = await call<{ run: Run }>('POST', `/api/schedules/${id}/run`, undefined, 'operator');
      expect(now.status).toBe(202);
      expect(now.body.run).toMatchObject({ trigger: 'manual', state: viaAgent ? expect.stringMatching(/^(dispatched|sent)$/) : 'sent', error: null, taskId: expect.any(String) });
      if (e.waiting) {
        await e.waiting(now.body.run.taskId!, [key, ...ECHO_ARGS], ECHO_KWARGS);
        worker = e.startWorker(env);
      }
      const manual = await sentRun(id, (r) => r.trigger === 'manual');
      expect(manual).toMatchObject({ id: now.body.run.id, taskId: now.body.run.taskId });
      const exact: Echoed = { args: ECHO_ARGS, kwargs: ECHO_KWARGS, types: ECHO_TYPES };
      expect(await echoed(key, 1)).toEqual([exact]);
      await shownAsSent(id, manual, viaAgent, `schedule ${name} (run now by otto)`);

      // Its cron time comes (moved to now): the scheduler sends it once, and the worker runs it.
      await svc.db.query(`UPDATE schedules SET next_run_at = now() - interval '1 second' WHERE id = $1`, [id]);
      const cron = await sentRun(id, (r) => r.trigger === 'cron');
      expect(cron.dueAt).toEqual(expect.any(String));
      expect(await echoed(key, 2)).toEqual([exact, exact]);
      await shownAsSent(id, cron, viaAgent, `schedule ${name} (cron)`);
      // Moved on to its next 03:00 in Paris, and fired only once.
      const after = (await call<{ schedule: { nextRunAt: string; lastRun: Run } }>('GET', `/api/schedules/${id}`)).body.schedule;
      expect(Date.parse(after.nextRunAt)).toBeGreaterThan(Date.now());
      expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }).format(Date.parse(after.nextRunAt))).toBe('03:00');
      expect(after.lastRun.id).toBe(cron.id);
      expect((await call<{ runs: Run[] }>('GET', `/api/schedules/${id}/runs`)).body.runs).toHaveLength(2);
      // Counted once each, by where its send got to: an agent's run is dispatched (sent, when the agent answered first).
      const { sent = 0, dispatched = 0, ...other } = Object.fromEntries((await svc.metrics.scheduleRuns.get()).values.map((v) => [v.labels.state, v.value]));
      expect([sent + dispatched, viaAgent ? 0 : dispatched, other]).toEqual([2, 0, {}]);

      // Audited under the schedule: its writes by their users, the cron's run by the scheduler; each
      // run the agent sent, by the agent as it settled its command (in the order they settled).
      const audited = (await svc.db.query<{ action: string; outcome: string; actor_name: string }>(
        'SELECT action, outcome, actor_name FROM audit_log WHERE target = $1 ORDER BY seq', [`schedule:${id}`])).rows.map((r) => `${r.action} ${r.outcome} ${r.actor_name}`);
      expect(audited.slice(0, 2)).toEqual(['schedule.create ok ada', 'schedule.run ok otto']);
      const later = audited.slice(2);
      expect([later.filter((r) => r === 'schedule.run ok scheduler').length, later.filter((r) => /^schedule\.run ok z4j agent of ./.test(r)).length, later.length]).toEqual([1, viaAgent ? 2 : 0, viaAgent ? 3 : 1]);

      // The secret went to the worker and nowhere else.
      expect(await tablesHolding(svc.db, SCHEDULE_SECRET)).toEqual([]);
    });
  });
}
