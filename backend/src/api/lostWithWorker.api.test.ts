// A task whose worker is gone (killed outright: no offline event, its heartbeats just stop for
// Z4J_WORKER_LOST_AFTER, a minute by default; or offline) while the task was in its hands: the
// task's detail says so, and a started one, which nothing will ever end, can be retried, the
// retry saying what it was lost with.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DbPayloadStore } from '../actions/payloads.js';
import type { Db } from '../db/db.js';
import type { EngineDriver, RetryPayload } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

interface Detail {
  task: { state: string; workerGone: { hostname: string; lastSeenAt: string; offlineAt: string | null } | null };
  events: { kind: string; fields: Record<string, unknown> }[];
}

describe('a task lost with its worker', () => {
  let db: Db;
  let api: ReturnType<typeof testApp>;
  const sent: { payload: RetryPayload | null; newTaskId: string; at: number }[] = [];
  const huey: EngineDriver = {
    engine: 'huey',
    capabilities: { 'task.retry': { via: 'broker' } },
    async retry(payload, newTaskId) {
      sent.push({ payload, newTaskId, at: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 30)); // the broker's reply, while a worker may already run the task
      return { detail: { newTaskId } };
    },
  };
  const now = Date.now();
  const offer = (candidate: Record<string, unknown>, sealed?: Buffer) =>
    api.pipeline.offer('agent', { v: 1, id: randomUUID(), engine: 'huey', project: 'default', ...candidate }, undefined, sealed);
  /** A worker that sends heartbeats every 2 s, last heard `agoMs` ago. */
  const worker = (hostname: string, agoMs: number, kind = 'worker-heartbeat') =>
    offer({ type: 'worker', kind, worker: hostname, occurredAt: now - agoMs, fields: { freq: 2 } });
  /** A task sent and then `state` (received or started, or an end) on `hostname`, with its sealed call. */
  const task = async (taskId: string, state: string, hostname: string) => {
    const projectId = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'default'`)).rows[0]!.id;
    const call: RetryPayload = { name: 'tasks.report', args: [1], kwargs: { password: 'hunter2-secret', day: 'monday' }, queue: 'default', options: {} };
    const sealed = new DbPayloadStore(db, api.ctx.sealer).sealFor(projectId, 'huey', taskId, call);
    await offer({ type: 'task', kind: 'enqueued', taskId, occurredAt: now - 120_000, fields: { name: 'tasks.report', queue: 'default' } }, sealed);
    await offer({ type: 'task', kind: state, taskId, worker: hostname, occurredAt: now - 90_000, fields: {} });
  };
  const detail = async (taskId: string) => {
    const r = await request(api.app).get(`/api/tasks/huey/${taskId}`).set(authHeaders('viewer'));
    expect(r.status).toBe(200);
    return r.body as Detail;
  };
  const retry = (taskId: string) =>
    request(api.app).post(`/api/tasks/huey/${taskId}/actions/retry`).set(authHeaders('operator')).set('idempotency-key', randomUUID()).send({});

  beforeAll(async () => {
    db = await openTestDb('pglite', 'lost_with_worker');
    api = testApp(db, { drivers: new Map<Engine, EngineDriver>([['huey', huey]]) });
    api.pipeline.start();
    await worker('killed', 70_000); // silent for over a minute: 35 heartbeats missed
    await worker('stopped', 1_000, 'worker-offline');
    await worker('alive', 500);
    // Offline in the workers list (silent for three heartbeats and 10 s), yet its tasks are not
    // called lost before a minute: Celery's solo pool sends no heartbeat while a task runs.
    await worker('quiet', 30_000);
    await task('on-killed', 'started', 'killed');
    await task('taken-by-killed', 'received', 'killed');
    await task('done-on-killed', 'succeeded', 'killed');
    await task('on-stopped', 'started', 'stopped');
    await task('on-alive', 'started', 'alive');
    await task('on-unknown', 'started', 'never-heard-of');
    await task('on-quiet', 'started', 'quiet');
    await task('also-on-stopped', 'started', 'stopped');
    await api.pipeline.drained();
  });
  afterAll(async () => {
    await api?.pipeline.stop();
    await db?.close();
  });

  test('the detail names the gone worker of a task it holds, and nothing for any other task', async () => {
    const killed = (await detail('on-killed')).task.workerGone;
    expect(killed).toEqual({ hostname: 'killed', lastSeenAt: new Date(now - 70_000).toISOString(), offlineAt: null });
    expect((await detail('taken-by-killed')).task.workerGone?.hostname).toBe('killed');
    const stopped = (await detail('on-stopped')).task.workerGone;
    expect([stopped?.hostname, stopped?.offlineAt]).toEqual(['stopped', new Date(now - 1_000).toISOString()]);
    // Ended, alive, silent for less than a minute, or a worker z4j never heard from (it cannot tell): nothing.
    for (const id of ['done-on-killed', 'on-alive', 'on-quiet', 'on-unknown']) expect([id, (await detail(id)).task.workerGone]).toEqual([id, null]);
  });

  test('a started task whose worker is gone is retried, the retry saying what it was lost with', async () => {
    for (const id of ['on-killed', 'on-stopped']) {
      const r = await retry(id);
      expect([id, r.status, r.body.command.state, r.body.command.outcome?.lostWith]).toEqual([id, 202, 'succeeded', id === 'on-killed' ? 'killed' : 'stopped']);
      const newTaskId = sent.at(-1)!.newTaskId;
      expect(sent.at(-1)!.payload?.name).toBe('tasks.report');
      await api.pipeline.drained();
      const enqueue = (await detail(newTaskId)).events.find((ev) => ev.kind === 'enqueued') as Detail['events'][number] & { occurredAt: string };
      expect(Date.parse(enqueue.occurredAt)).toBeLessThanOrEqual(sent.at(-1)!.at); // when the send began, not when the broker answered
      expect(enqueue?.fields.reason).toBe(`retry of ${id} (lost with worker ${r.body.command.outcome.lostWith}) from z4j by otto`);
      // The call's arguments, redacted as any event's: no worker's agent reports them for a copy.
      const shown = (await detail(newTaskId)) as Detail & { task: { args: unknown; kwargs: unknown } };
      expect([shown.task.args, shown.task.kwargs]).toEqual([[1], { password: '[redacted]', day: 'monday' }]);
    }
    const audited = await db.query<{ target: string; detail: { lostWith?: string } }>(`SELECT target, detail FROM audit_log WHERE action = 'task.retry' ORDER BY seq`);
    expect(audited.rows.map((row) => [row.target, row.detail.lostWith])).toEqual([['huey/on-killed', 'killed'], ['huey/on-stopped', 'stopped']]);
  });

  test('a started task whose worker is alive, silent for less than a minute, or unknown, or a received one, is not retried, saying why', async () => {
    const before = sent.length;
    for (const id of ['on-alive', 'on-quiet', 'on-unknown']) {
      const r = await retry(id);
      expect([id, r.body.command.state, r.body.command.outcome?.message]).toEqual([
        id,
        'failed',
        'cannot retry a task that is started (z4j retries a started task only once its worker is gone: terminate it, or wait for its end)',
      ]);
    }
    // Its worker never started it: a broker that waits for acknowledgements gives it to another worker.
    const received = await retry('taken-by-killed');
    expect([received.body.command.state, received.body.command.outcome?.message]).toEqual(['failed', 'cannot retry a task that is received']);
    expect(sent.length).toBe(before);
  });

  test("a bulk retry of a gone worker's started tasks retries each, as it would one by one", async () => {
    const filters = { worker: 'stopped', state: 'started' };
    const preview = await request(api.app).post('/api/bulk/preview').set(authHeaders('operator')).send({ action: 'retry', filters });
    expect(preview.body.count).toBe(2);
    const job = await request(api.app).post('/api/bulk').set(authHeaders('operator')).set('idempotency-key', randomUUID()).send({ action: 'retry', filters });
    expect(job.status).toBe(202);
    await api.ctx.bulk.drain();
    const commands = await db.query<{ target: string; state: string; lostWith: string | null }>(
      `SELECT target, state, outcome->>'lostWith' AS "lostWith" FROM commands WHERE bulk_id = $1 ORDER BY target`,
      [job.body.job.id],
    );
    expect(commands.rows).toEqual([
      { target: 'also-on-stopped', state: 'succeeded', lostWith: 'stopped' },
      { target: 'on-stopped', state: 'succeeded', lostWith: 'stopped' },
    ]);
  });
});
