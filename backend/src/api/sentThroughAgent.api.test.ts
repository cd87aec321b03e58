// A task z4j sends through the agent command channel (Huey, arq: a retry, a schedule's run) is
// reported enqueued by the agent, not by z4j: its timeline shows z4j's reason on that one
// enqueue, as it does for a task z4j sent straight to the broker.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { NoAgentRoute, recordAgentReports } from '../actions/agentCommands.js';
import { DbPayloadStore } from '../actions/payloads.js';
import type { Db } from '../db/db.js';
import type { EngineDriver, RetryPayload } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

interface Detail { task: { state: string; retryOf: string | null }; events: { id: string; kind: string; fields: Record<string, unknown> }[] }

describe('a task z4j sent through an agent', () => {
  let db: Db;
  let api: ReturnType<typeof testApp>;
  /** Sends as the Huey driver does: the agent enqueues it (the channel is not here: the test plays the agent). */
  const sent: { payload: RetryPayload | null; newTaskId: string }[] = [];
  /** Set: the next send finds no agent to take it (as the channel throws when no live worker has one). */
  let noAgent = false;
  const huey: EngineDriver = {
    engine: 'huey',
    capabilities: { 'task.retry': { via: 'agent' } },
    async retry(payload, newTaskId) {
      sent.push({ payload, newTaskId });
      if (noAgent) throw new NoAgentRoute('no live huey worker with a z4j agent taking commands serves queue default');
      return { awaitsAgent: true, detail: { newTaskId, queue: payload?.queue ?? 'default', worker: 'huey-w1' } };
    },
  };
  const post = (path: string, role: 'operator' | 'admin', body: object = {}) =>
    request(api.app).post(path).set(authHeaders(role)).set('idempotency-key', randomUUID()).send(body);
  const detail = async (taskId: string) => {
    const r = await request(api.app).get(`/api/tasks/huey/${taskId}`).set(authHeaders('viewer'));
    expect(r.status).toBe(200);
    return r.body as Detail;
  };
  /** What the worker's agent reports once it enqueued the task (its engine hooks know nothing of z4j). */
  const agentEnqueues = async (taskId: string, name: string) => {
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: `agent-${randomUUID()}`, engine: 'huey', project: 'default', kind: 'enqueued', taskId, occurredAt: Date.now(), fields: { name, queue: 'default', retries: 0 } });
    await api.pipeline.drained();
  };

  beforeAll(async () => {
    db = await openTestDb('pglite', 'sent_through_agent');
    api = testApp(db, { drivers: new Map<Engine, EngineDriver>([['huey', huey]]) });
    api.pipeline.start();
  });
  afterAll(async () => {
    await api?.pipeline.stop();
    await db?.close();
  });

  test('a retry shows "retry of" on the enqueue its agent reports, one enqueued line', async () => {
    const projectId = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'default'`)).rows[0]!.id;
    const call: RetryPayload = { name: 'tasks.flaky', args: [1], kwargs: {}, queue: 'default', options: {} };
    const sealed = new DbPayloadStore(db, api.ctx.sealer).sealFor(projectId, 'huey', 'orig-1', call);
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: 'orig-1-enq', engine: 'huey', project: 'default', kind: 'enqueued', taskId: 'orig-1', occurredAt: Date.now() - 2000, fields: { name: 'tasks.flaky', queue: 'default' } }, undefined, sealed);
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: 'orig-1-fail', engine: 'huey', project: 'default', kind: 'failed', taskId: 'orig-1', occurredAt: Date.now() - 1000, fields: { exception: 'ValueError: flaky' } });
    await api.pipeline.drained();

    const r = await post('/api/tasks/huey/orig-1/actions/retry', 'operator');
    expect([r.status, r.body.command.state]).toEqual([202, 'dispatched']);
    const newTaskId = sent.at(-1)!.newTaskId;
    await agentEnqueues(newTaskId, 'tasks.flaky');

    const d = await detail(newTaskId);
    expect(d.task.retryOf).toBe('orig-1');
    expect(d.events.map((ev) => [ev.kind, ev.fields.reason])).toEqual([['enqueued', 'retry of orig-1 from z4j by otto']]);
    // The original's own enqueue is not one z4j made: no reason there.
    expect((await detail('orig-1')).events.map((ev) => ev.fields.reason)).toEqual([undefined, undefined]);
  });

  test("a schedule's run now shows its schedule on the enqueue its agent reports, and only on the first", async () => {
    const created = await post('/api/schedules', 'admin', { name: 'nightly', engine: 'huey', taskName: 'tasks.close_day', args: [7], queue: 'default', cron: '@daily' });
    expect(created.status).toBe(201);
    const run = await post(`/api/schedules/${created.body.schedule.id}/run`, 'operator');
    expect([run.status, run.body.run.state]).toEqual([202, 'dispatched']);
    const taskId = run.body.run.taskId as string;
    expect(sent.at(-1)!.newTaskId).toBe(taskId);
    await agentEnqueues(taskId, 'tasks.close_day');
    // Huey's own retry of it later is the engine's: enqueued again, without z4j's reason.
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: `agent-${randomUUID()}`, engine: 'huey', project: 'default', kind: 'enqueued', taskId, occurredAt: Date.now() + 1000, fields: { name: 'tasks.close_day', queue: 'default', retries: 1 } });
    await api.pipeline.drained();

    const d = await detail(taskId);
    expect(d.events.map((ev) => [ev.kind, ev.fields.reason])).toEqual([['enqueued', 'schedule nightly (run now by otto)'], ['enqueued', undefined]]);
  });

  const reasonsOf = async (taskId: string) => (await db.query('SELECT reason FROM task_reasons WHERE task_id = $1', [taskId])).rows;

  test('a run now that no agent can take keeps no reason for a task that will never come', async () => {
    const created = await post('/api/schedules', 'admin', { name: 'orphan', engine: 'huey', taskName: 'tasks.close_day', args: [], queue: 'default', cron: '@daily' });
    noAgent = true;
    try {
      const run = await post(`/api/schedules/${created.body.schedule.id}/run`, 'operator');
      expect([run.status, run.body.run.state]).toEqual([202, 'failed']);
    } finally {
      noAgent = false;
    }
    expect(await reasonsOf(sent.at(-1)!.newTaskId)).toEqual([]);
  });

  test('a retry the agent reports it could not enqueue drops its reason; one it enqueued keeps it', async () => {
    const retryOf = async (original: string) => {
      const r = await post(`/api/tasks/huey/${original}/actions/retry`, 'operator');
      expect(r.body.command.state).toBe('dispatched');
      // What the channel records when it hands the command to an agent (the fake driver has none).
      await db.query(`UPDATE commands SET outcome = outcome || jsonb_build_object('ref', 'ref-' || id, 'agent', 'agent-h') WHERE id = $1`, [r.body.command.id]);
      return { command: Number(r.body.command.id), newTaskId: sent.at(-1)!.newTaskId };
    };
    const report = (command: number, state: string) => ({ v: 1, type: 'command', commandId: `ref-${command}`, command, state, detail: {}, occurredAt: Date.now() });
    const projectId = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'default'`)).rows[0]!.id;

    const refused = await retryOf('orig-1');
    expect(await reasonsOf(refused.newTaskId)).toHaveLength(1);
    expect(await recordAgentReports(db, projectId, 'agent-h', [report(refused.command, 'failed')], [])).toBe(1);
    expect(await reasonsOf(refused.newTaskId)).toEqual([]);

    const taken = await retryOf('orig-1');
    expect(await recordAgentReports(db, projectId, 'agent-h', [report(taken.command, 'succeeded')], [])).toBe(1);
    expect(await reasonsOf(taken.newTaskId)).toEqual([{ reason: 'retry of orig-1 from z4j by otto' }]);
  });
});
