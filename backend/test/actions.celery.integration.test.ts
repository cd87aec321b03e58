// Actions on Celery against real workers on Redis and RabbitMQ: cancel, terminate, retry
// from a payload, purge with its confirmation token, worker control checked through
// Celery's own remote control, and idempotent commands.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { payloadAad } from '../src/actions/payloads.js';
import type { Service } from '../src/service.js';
import { authHeaders } from './helpers/auth.js';
import { covers } from './helpers/coverage.js';
import { AMQP_URL, REDIS_URL, inspectWorker, isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { celeryServiceWithAgent, workerOnline } from './helpers/celeryService.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(240_000);

interface Command { id: number; kind: string; state: string; outcome: Record<string, unknown> | null; target: string; requestedBy: string }
interface TaskDetail { task: { state: string; result: unknown; startedAt: string | null }; events: { kind: string; fields: Record<string, unknown> }[] }

describe.each(['redis', 'amqp'] as const)('Celery actions on %s', (broker) => {
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;

  async function call<T>(method: string, path: string, opts: { body?: unknown; key?: string | null; as?: 'viewer' | 'operator' | 'admin' } = {}): Promise<{ status: number; body: T }> {
    // Admin for purges and shutdowns, Operator for the rest: the roles the routes require.
    const role = opts.as ?? (/purge|shutdown/.test(path) ? 'admin' : 'operator');
    const headers: Record<string, string> = { 'content-type': 'application/json', ...authHeaders(role) };
    if (opts.key !== null) headers['idempotency-key'] = opts.key ?? randomUUID();
    const res = await fetch(`${svc.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    return { status: res.status, body: (await res.json()) as T };
  }
  const task = async (id: string) => {
    const r = await call<TaskDetail>('GET', `/api/tasks/celery/${id}`, { key: null });
    if (r.status !== 200) throw new Error(`task ${id}: ${r.status}`);
    return r.body;
  };
  const taskInState = (id: string, ...states: string[]) => eventually(async () => {
    const d = await task(id);
    if (!states.includes(d.task.state)) throw new Error(`task ${id} is ${d.task.state}, waiting for ${states.join('/')}`);
    return d;
  });
  const commandSettles = (id: number) => eventually(async () => {
    const r = await call<{ command: Command }>('GET', `/api/commands/${id}`, { key: null });
    if (['pending', 'dispatched'].includes(r.body.command.state)) throw new Error(`command ${id} still ${r.body.command.state}`);
    return r.body.command;
  });

  beforeAll(async () => {
    celery = isolatedCelery(broker === 'redis' ? REDIS_URL : AMQP_URL);
    // The z4j agent runs in the test app (producer and worker) and records each task's exact call.
    svc = await celeryServiceWithAgent(celery, `actions_${broker}`);
    worker = startWorker(celery, { concurrency: 2 });
    await workerOnline(svc, worker);
  });

  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
  });

  test('the capability matrix comes from the drivers', async () => {
    const r = await call<{ capabilities: { capability: string; engines: Record<string, unknown> }[] }>('GET', '/api/capabilities', { key: null });
    const celeryCan = r.body.capabilities.filter((c) => c.engines.celery).map((c) => c.capability);
    expect(celeryCan).toEqual(expect.arrayContaining(['task.retry', 'task.cancel', 'task.terminate', 'queue.purge', 'worker.shutdown']));
  });

  test('a task cancelled before it starts never runs', async () => {
    covers('celery', 'task.cancel');
    // The worker holds a countdown task unstarted until its ETA: cancel it in that window.
    const id = await sendTask(celery, 'z4j.add', [20, 22], { countdown: 4 });
    await taskInState(id, 'received');
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/cancel`);
    expect(r.status).toBe(202);
    expect(r.body.command.state).toBe('dispatched');
    const settled = await commandSettles(r.body.command.id);
    expect(settled.state).toBe('succeeded');
    await sleep(5000); // past the ETA: had the cancel not worked, the task would run now
    const d = await task(id);
    expect(d.task.state).toBe('revoked');
    expect(d.task.result).toBeNull();
    expect(d.events.map((e) => e.kind)).not.toContain('started');
  });

  test('a running task is terminated', async () => {
    covers('celery', 'task.terminate');
    const id = await sendTask(celery, 'z4j.sleep', [120]);
    await taskInState(id, 'started');
    const started = Date.now();
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/terminate`);
    expect(r.status).toBe(202);
    // The worker running it answered (prefork sends it SIGTERM); its revoked event settles the command.
    expect(r.body.command.outcome).toMatchObject({ worker: worker.hostname, reply: `terminate: ${id}` });
    expect((await commandSettles(r.body.command.id)).state).toBe('succeeded');
    expect((await task(id)).task.state).toBe('revoked');
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  test('a Viewer is refused every action, and the refusal is audited', async () => {
    const id = await sendTask(celery, 'z4j.add', [3, 4]);
    await taskInState(id, 'succeeded');
    const before = (await svc.db.query<{ n: number }>('SELECT count(*)::int AS n FROM commands')).rows[0]!.n;
    for (const action of ['retry', 'cancel', 'terminate']) {
      const r = await call<{ error: { code: string } }>('POST', `/api/tasks/celery/${id}/actions/${action}`, { as: 'viewer' });
      expect(r.status).toBe(403);
    }
    const purge = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${celery.queue}/purge-preview`, { as: 'operator', key: null });
    expect(purge.status).toBe(403);
    expect((await svc.db.query<{ n: number }>('SELECT count(*)::int AS n FROM commands')).rows[0]!.n).toBe(before);
    const refused = await svc.db.query<{ action: string; outcome: string }>(`SELECT action, outcome FROM audit_log WHERE outcome = 'refused' ORDER BY seq DESC LIMIT 4`);
    // Under the action asked for, as its command would have been audited.
    expect(refused.rows.map((r) => r.action).sort()).toEqual(['queue.purge_preview', 'task.cancel', 'task.retry', 'task.terminate']);
  });

  test('every action is audited with its command', async () => {
    const rows = await svc.db.query<{ action: string; target: string; detail: { commandId?: number } }>(`SELECT action, target, detail FROM audit_log WHERE action LIKE 'task.%' AND outcome <> 'refused'`);
    const commands = await svc.db.query<{ id: number }>(`SELECT id::int AS id FROM commands WHERE kind LIKE 'task.%' AND bulk_id IS NULL`);
    const audited = new Set(rows.rows.map((r) => r.detail?.commandId));
    expect(commands.rows.filter((c) => !audited.has(c.id))).toEqual([]);
  });

  test('cancel refuses a task that already ran, and says why', async () => {
    const id = await sendTask(celery, 'z4j.add', [1, 2]);
    await taskInState(id, 'succeeded');
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/cancel`);
    expect(r.body.command.state).toBe('failed');
    expect(String(r.body.command.outcome?.message)).toMatch(/succeeded/);
  });

  test('retry publishes the exact payload as a new task that runs', async () => {
    covers('celery', 'task.retry');
    const newId = randomUUID();
    const driver = svc.actions.drivers.get('celery')!;
    await driver.retry!({ name: 'z4j.add', args: [40, 2], kwargs: {}, queue: celery.queue }, newId, { taskId: 'original', name: 'z4j.add', queue: celery.queue, worker: null, state: 'failed' });
    const d = await taskInState(newId, 'succeeded');
    expect(d.task.result).toBe('42'); // Celery events carry the result's repr
  });

  test('retry from z4j re-sends the original arguments the agent captured (secrets included), as a linked new task', async () => {
    covers('celery', 'task.retry');
    const key = randomUUID();
    const args = [key];
    const kwargs = { password: 'hunter2-secret' };
    const id = await sendTask(celery, 'z4j.fail_once', args, { kwargs });
    const failed = await taskInState(id, 'failed');
    expect(JSON.stringify(failed)).not.toContain('hunter2-secret'); // the display copy is redacted
    // The agent in the producer sent the exact call; ingest sealed it.
    const projectId = (await svc.db.query<{ id: number }>("SELECT id FROM projects WHERE slug = 'default'")).rows[0]!.id;
    const sealed = await eventually(async () => {
      const row = (await svc.db.query<{ sealed: Buffer }>('SELECT sealed_payload AS sealed FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL', [id])).rows[0];
      if (!row) throw new Error('no payload from the agent yet');
      return row.sealed;
    }, 30_000, 200);
    expect(JSON.parse(svc.sealer.open(Buffer.from(sealed), payloadAad(projectId, 'celery', id)).toString())).toMatchObject({ name: 'z4j.fail_once', args, kwargs, queue: celery.queue });
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/retry`);
    expect([r.status, r.body.command.state]).toEqual([202, 'succeeded']);
    const newId = String(r.body.command.outcome?.newTaskId);
    const rerun = await taskInState(newId, 'succeeded');
    expect(rerun.task.result).toBe("'ok after 2 attempts'");
    const links = await call<{ task: { retryOf: string | null; retriedAs: string[] } }>('GET', `/api/tasks/celery/${newId}`, { key: null });
    expect(links.body.task.retryOf).toBe(id);
    const original = await call<{ task: { retryOf: string | null; retriedAs: string[] } }>('GET', `/api/tasks/celery/${id}`, { key: null });
    expect(original.body.task.retriedAs).toEqual([newId]);
    // The retry can itself be retried: it carries the same call, sealed for its own id.
    const again = await call<{ command: Command }>('POST', `/api/tasks/celery/${newId}/actions/retry`);
    expect([again.status, again.body.command.state, again.body.command.outcome?.code]).toEqual([202, 'succeeded', undefined]);
    const third = await taskInState(String(again.body.command.outcome?.newTaskId), 'succeeded');
    expect(third.task.result).toBe("'ok after 3 attempts'");
  });

  test('retry without a captured payload fails plainly', async () => {
    const id = await sendTask(celery, 'z4j.fail', ['no payload here']);
    await taskInState(id, 'failed');
    await svc.db.query('UPDATE tasks SET sealed_payload = NULL WHERE task_id = $1', [id]); // as if the producer ran without the agent
    const r = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/retry`);
    expect(r.body.command.state).toBe('failed');
    expect(r.body.command.outcome?.code).toBe('NO_PAYLOAD');
    // Nothing was sent: the task shows no retry, and its workflow no edge to one.
    const after = await call<{ task: { retriedAs: string[] } }>('GET', `/api/tasks/celery/${id}`, { key: null });
    expect(after.body.task.retriedAs).toEqual([]);
    const graph = await call<{ edges: { kind: string }[] }>('GET', `/api/tasks/celery/${id}/graph`, { key: null });
    expect(graph.body.edges.filter((e) => e.kind === 'retry')).toEqual([]);
  });

  test('the same Idempotency-Key acts once; reused for another action it is refused', async () => {
    const id = await sendTask(celery, 'z4j.add', [5, 5]);
    await taskInState(id, 'succeeded');
    const key = randomUUID();
    const first = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/cancel`, { key });
    const again = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/cancel`, { key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.command.id).toBe(first.body.command.id);
    const other = await call<{ error: { code: string } }>('POST', `/api/tasks/celery/${id}/actions/terminate`, { key });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const missing = await call<{ error: { code: string } }>('POST', `/api/tasks/celery/${id}/actions/cancel`, { key: null });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
  });

  test('purge empties exactly the target queue, once per token', async () => {
    covers('celery', 'queue.purge');
    // Queues no worker consumes, so their messages wait.
    const target = `${celery.queue}_purge`;
    const other = `${celery.queue}_keep`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await sendTask(celery, 'z4j.add', [i, i], { queue: target }));
    for (let i = 0; i < 2; i++) await sendTask(celery, 'z4j.add', [i, i], { queue: other });
    for (const id of ids) await taskInState(id, 'enqueued'); // the agent's reports of them are in
    const preview = await call<{ depth: number; token: string }>('POST', `/api/queues/celery/${target}/purge-preview`, { key: null });
    expect(preview.status).toBe(200);
    expect(preview.body.depth).toBe(3);
    const wrongQueue = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${other}/purge`, { key: null, body: { token: preview.body.token } });
    expect(wrongQueue.status).toBe(403);
    expect(wrongQueue.body.error.code).toBe('TOKEN_MISMATCH');
    const purge = await call<{ command: Command }>('POST', `/api/queues/celery/${target}/purge`, { key: null, body: { token: preview.body.token } });
    expect(purge.status).toBe(202);
    expect(purge.body.command.state).toBe('succeeded');
    expect(purge.body.command.outcome?.purged).toBe(3);
    const driver = svc.actions.drivers.get('celery')!;
    expect(await driver.queueDepth!(target)).toBe(0);
    expect(await driver.queueDepth!(other)).toBe(2);
    if (broker === 'redis') {
      // Their messages are read after the purge: each task is recorded revoked, saying who purged it.
      expect(purge.body.command.outcome?.revoked).toBe(3);
      for (const id of ids) {
        const purged = await taskInState(id, 'revoked');
        expect(purged.events.find((ev) => ev.kind === 'revoked')?.fields.reason).toBe(`purged from z4j by ${purge.body.command.requestedBy}`);
      }
    } else {
      // RabbitMQ only counts: the three z4j had waiting there, no more than it removed, are marked.
      expect(purge.body.command.outcome).toMatchObject({ revoked: 3, message: expect.stringMatching(/not which: z4j marked the tasks it had waiting there/) });
      for (const id of ids) {
        const purged = await taskInState(id, 'revoked');
        expect(purged.events.find((ev) => ev.kind === 'revoked')?.fields).toMatchObject({ markedBy: 'z4j', inferred: true, reason: expect.stringMatching(/^purged by /) });
      }
    }
    const reused = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${target}/purge`, { key: null, body: { token: preview.body.token } });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('TOKEN_USED');
    const forged = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${target}/purge`, { key: null, body: { token: 'A'.repeat(80) } });
    expect(forged.status).toBe(409);
    expect(forged.body.error.code).toBe('TOKEN_INVALID');
  });

  test('a filtered purge removes only the matching tasks, and its token is bound to its filter', async () => {
    const target = `${celery.queue}_purge_f`;
    if (broker === 'amqp') {
      // AMQP cannot read waiting messages without taking them: refused, not faked (on the worker's queue, which the project knows).
      const refused = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${celery.queue}/purge-preview`, { key: null, body: { filter: { name: 'z4j.add' } } });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('UNSUPPORTED');
      return;
    }
    covers('celery', 'queue.purge_filtered');
    const matching: string[] = [];
    const kept: string[] = [];
    for (let i = 0; i < 2; i++) {
      matching.push(await sendTask(celery, 'z4j.add', [i, i], { queue: target }));
      kept.push(await sendTask(celery, 'z4j.sleep', [0], { queue: target }));
    }
    const preview = await call<{ depth: number; complete: boolean; token: string }>('POST', `/api/queues/celery/${target}/purge-preview`, { key: null, body: { filter: { name: 'z4j.add' } } });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ depth: 2, complete: true });
    const otherFilter = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${target}/purge`, { key: null, body: { token: preview.body.token, filter: { name: 'z4j.sleep' } } });
    expect(otherFilter.status).toBe(403);
    expect(otherFilter.body.error.code).toBe('TOKEN_MISMATCH');
    const noFilter = await call<{ error: { code: string } }>('POST', `/api/queues/celery/${target}/purge`, { key: null, body: { token: preview.body.token } });
    expect(noFilter.body.error.code).toBe('TOKEN_MISMATCH');
    const purge = await call<{ command: Command }>('POST', `/api/queues/celery/${target}/purge`, { key: null, body: { token: preview.body.token, filter: { name: 'z4j.add' } } });
    expect(purge.status).toBe(202);
    expect(purge.body.command).toMatchObject({ kind: 'queue.purge_filtered', state: 'succeeded' });
    expect(purge.body.command.outcome?.purged).toBe(2);
    const driver = svc.actions.drivers.get('celery')!;
    expect(await driver.queueDepth!(target)).toBe(2);
    // The worker now takes the queue: the survivors run, the purged never do.
    await driver.workerControl!(worker.hostname, 'add_consumer', { queue: target });
    try {
      for (const id of kept) await taskInState(id, 'succeeded');
      await sleep(1000);
      for (const id of matching) {
        const r = await call<TaskDetail>('GET', `/api/tasks/celery/${id}`, { key: null });
        if (r.status === 200) expect(r.body.task.state).not.toMatch(/received|started|succeeded|failed/);
      }
    } finally {
      await driver.workerControl!(worker.hostname, 'cancel_consumer', { queue: target });
    }
  });

  test('worker control: pool size, consumers, rate and time limits, as Celery itself reports them', async () => {
    covers('celery', 'worker.pool_grow');
    covers('celery', 'worker.pool_shrink');
    covers('celery', 'worker.add_consumer');
    covers('celery', 'worker.cancel_consumer');
    covers('celery', 'worker.rate_limit');
    covers('celery', 'worker.time_limit');
    const w = `/api/workers/celery/${encodeURIComponent(worker.hostname)}/actions`;
    const processes = async () => (await inspectWorker<{ pool: { processes: number[] } }>(celery, worker.hostname, 'stats')).pool.processes.length;
    // The command succeeds with what the worker answered, read back through the API.
    const ok = async (action: string, body: unknown, reply: string) => {
      const r = await call<{ command: Command }>('POST', `${w}/${action}`, { body });
      expect([r.status, r.body.command.state]).toEqual([202, 'succeeded']);
      const seen = await call<{ command: Command }>('GET', `/api/commands/${r.body.command.id}`, { key: null });
      expect(seen.body.command).toMatchObject({ kind: `worker.${action}`, state: 'succeeded', outcome: { worker: worker.hostname, reply } });
    };
    await ok('pool_grow', { n: 1 }, 'pool will grow');
    await eventually(async () => expect(await processes()).toBe(3), 30_000, 1000);
    await ok('pool_shrink', { n: 1 }, 'pool will shrink');
    await eventually(async () => expect(await processes()).toBe(2), 30_000, 1000);

    const extra = `${celery.queue}_extra`;
    const queues = async () => (await inspectWorker<{ name: string }[]>(celery, worker.hostname, 'active_queues')).map((q) => q.name);
    await ok('add_consumer', { queue: extra }, `add consumer ${extra}`);
    await eventually(async () => expect(await queues()).toContain(extra), 30_000, 1000);
    await ok('cancel_consumer', { queue: extra }, `no longer consuming from ${extra}`);
    await eventually(async () => expect(await queues()).not.toContain(extra), 30_000, 1000);

    await ok('rate_limit', { taskName: 'z4j.add', rateLimit: '10/m' }, 'new rate limit set successfully');
    await ok('time_limit', { taskName: 'z4j.sleep', hard: 300, soft: 200 }, 'time limits set successfully');
    await eventually(async () => {
      const registered = (await inspectWorker<string[]>(celery, worker.hostname, 'registered')).join('\n');
      expect(registered).toMatch(/z4j\.add.*rate_limit=10\/m/);
      expect(registered).toMatch(/z4j\.sleep.*time_limit=300/);
    }, 30_000, 1000);

    const bad = await call<{ error: { code: string; message: string } }>('POST', `${w}/rate_limit`, { body: { taskName: 'z4j.add' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/rateLimit/);
  });

  test('autoscale bounds reach a worker started with --autoscale', async () => {
    covers('celery', 'worker.autoscale');
    const scaled = startWorker(celery, { concurrency: 1, autoscale: '3,1' });
    try {
      await eventually(async () => expect(await inspectWorker(celery, scaled.hostname, 'stats')).toBeTruthy(), 60_000, 1000);
      const r = await call<{ command: Command }>('POST', `/api/workers/celery/${encodeURIComponent(scaled.hostname)}/actions/autoscale`, { body: { max: 5, min: 2 } });
      expect(r.body.command).toMatchObject({ state: 'succeeded', outcome: { worker: scaled.hostname, reply: 'autoscale now max=5 min=2' } });
      await eventually(async () => {
        const stats = await inspectWorker<{ autoscaler?: { max: number; min: number } }>(celery, scaled.hostname, 'stats');
        expect(stats.autoscaler).toMatchObject({ max: 5, min: 2 });
      }, 30_000, 1000);
    } finally {
      await scaled.stop();
    }
  });

  test('a worker is shut down', async () => {
    covers('celery', 'worker.shutdown');
    const doomed = startWorker(celery, { concurrency: 1 });
    await eventually(async () => expect(await inspectWorker(celery, doomed.hostname, 'stats')).toBeTruthy(), 60_000, 1000);
    const r = await call<{ command: Command }>('POST', `/api/workers/celery/${encodeURIComponent(doomed.hostname)}/shutdown`);
    // Celery sends no reply to a shutdown: the worker answered a ping before it and none after.
    expect(r.body.command).toMatchObject({ state: 'succeeded', outcome: { worker: doomed.hostname, reply: null, message: expect.stringMatching(/stopped answering/) } });
    await eventually(async () => expect(doomed.process.exitCode).not.toBeNull(), 30_000, 500);
    await doomed.stop();
  });

  test("worker control that the worker refuses fails with the worker's error; one nobody answers times out", async () => {
    const w = `/api/workers/celery/${encodeURIComponent(worker.hostname)}/actions`;
    const unknown = await call<{ command: Command }>('POST', `${w}/rate_limit`, { body: { taskName: 'z4j.no_such_task', rateLimit: '1/s' } });
    expect(unknown.body.command).toMatchObject({ state: 'failed', outcome: { worker: worker.hostname, error: 'unknown task' } });
    // This worker runs without --autoscale: Celery raises, kombu replies with the error's repr.
    const autoscale = await call<{ command: Command }>('POST', `${w}/autoscale`, { body: { max: 3, min: 1 } });
    expect(autoscale.body.command).toMatchObject({ state: 'failed', outcome: { error: expect.stringMatching(/Autoscale not enabled/) } });

    // A worker the project never saw is not acted on (another project's, or a typo).
    const stranger = await call<{ error: { code: string } }>('POST', `/api/workers/celery/${encodeURIComponent(`celery@nobody-${randomUUID().slice(0, 8)}`)}/actions/pool_grow`, { body: { n: 1 } });
    expect([stranger.status, stranger.body.error.code]).toEqual([404, 'WORKER_NOT_FOUND']);
    // One it saw that has gone away since: asked, and silent.
    const ghost = `celery@ghost-${randomUUID().slice(0, 8)}`;
    await svc.db.query(`INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at) SELECT id, 'celery', $1, false, now(), now() FROM projects WHERE slug = 'default'`, [ghost]);
    const t0 = Date.now();
    const silent = await call<{ command: Command }>('POST', `/api/workers/celery/${encodeURIComponent(ghost)}/actions/pool_grow`, { body: { n: 1 } });
    expect(silent.body.command).toMatchObject({ state: 'timed_out', outcome: { worker: ghost, message: expect.stringMatching(/did not answer/) } });
    expect(Date.now() - t0).toBeLessThan(15_000);
    const gone = await call<{ command: Command }>('POST', `/api/workers/celery/${encodeURIComponent(ghost)}/shutdown`);
    expect(gone.body.command).toMatchObject({ state: 'timed_out', outcome: { message: expect.stringMatching(/shutdown not sent/) } });
    const audited = await svc.db.query<{ action: string; detail: { commandId?: number } }>(`SELECT action, detail FROM audit_log WHERE target LIKE $1`, [`%${ghost}%`]);
    expect(audited.rows.map((r) => r.detail?.commandId)).toEqual(expect.arrayContaining([silent.body.command.id, gone.body.command.id]));
  });
});
