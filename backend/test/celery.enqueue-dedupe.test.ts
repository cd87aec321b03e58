// A Celery task reported enqueued by both the agent (at publish, marked, with the exact call) and
// Celery's task-sent: one timeline row per attempt, whichever arrives first and however they are
// batched, carrying the agent's fields plus what only task-sent knows; either alone stays visible.
import { pino } from 'pino';
import type { Db } from '../src/db/db.js';
import { AGENT_MARK } from '../src/ingest/celeryEnqueues.js';
import { IngestPipeline } from '../src/ingest/pipeline.js';
import { createMetrics } from '../src/metrics.js';
import { taskEvent } from './helpers/envelopes.js';
import { STORAGES, openTestDb } from './helpers/storage.js';

const log = pino({ level: 'silent' });

// As the agent's Celery integration records it: JSON args (redacted), links, the marker.
const fromAgent = (taskId: string, at: number, retries = 0) =>
  taskEvent(taskId, 'enqueued', at, { name: 'app.add', queue: 'q1', args: [1, 2], kwargs: { password: '[redacted]' }, retries, groupId: `g-${taskId}`, recordedBy: AGENT_MARK }, { worker: undefined });
// As the service maps Celery's task-sent: repr strings, the producer.
const fromCelery = (taskId: string, at: number, retries = 0) =>
  taskEvent(taskId, 'enqueued', at, { name: 'app.add', queue: 'q1', args: '(1, 2)', kwargs: "{'password': '********'}", retries, producer: 'gen1@host', routingKey: 'q1' }, { worker: undefined });

describe.each(STORAGES)('Celery enqueues from the agent and task-sent on %s', (storage) => {
  let db: Db;
  let pipeline: IngestPipeline;
  beforeAll(async () => {
    db = await openTestDb(storage, 'celery_enqueues');
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(() => {
    pipeline = new IngestPipeline(db, { capacity: 1000, batchSize: 100, flushMs: 5, maxFieldChars: 1000, writers: 2 }, createMetrics(), log);
    pipeline.start();
  });
  afterEach(() => pipeline.stop());

  const send = async (...events: ReturnType<typeof taskEvent>[]) => {
    for (const ev of events) await pipeline.offer('test', structuredClone(ev));
    await pipeline.drained();
  };
  const enqueues = async (taskId: string) =>
    (await db.query<{ event_id: string; fields: Record<string, unknown> }>(`SELECT event_id, fields FROM task_events WHERE task_id = $1 AND kind = 'enqueued' ORDER BY occurred_at`, [taskId])).rows;
  const task = async (taskId: string) => (await db.query<{ state: string; group_id: string | null; sent_at: Date | null }>('SELECT state, group_id, sent_at FROM tasks WHERE task_id = $1', [taskId])).rows[0]!;

  const merged = (fields: Record<string, unknown>) => {
    expect(fields.args).toEqual([1, 2]); // the agent's, not the repr
    expect(fields.groupId).toBeTruthy();
    expect(fields.producer).toBe('gen1@host'); // only task-sent knows it
    expect(fields.recordedBy).toBe(AGENT_MARK);
  };

  test.each([
    ['task-sent first, the agent later', (id: string) => [[fromCelery(id, 2)], [fromAgent(id, 1)]]],
    ['the agent first, task-sent later', (id: string) => [[fromAgent(id, 1)], [fromCelery(id, 2)]]],
    ['both in one batch', (id: string) => [[fromCelery(id, 2), fromAgent(id, 1)]]],
  ])('%s: one enqueued row with both sides\' fields, folded into the task', async (_label, plan) => {
    const id = `t-${Math.random().toString(36).slice(2)}`;
    for (const batch of plan(id)) await send(...batch);
    const rows = await enqueues(id);
    expect(rows).toHaveLength(1);
    merged(rows[0]!.fields);
    const t = await task(id);
    expect(t.state).toBe('enqueued');
    expect(t.group_id).toBe(`g-${id}`);
    expect(t.sent_at).not.toBeNull();
  });

  test.each([
    ['task-sent earlier', 1, 2],
    ['in the same millisecond, task-sent first in the batch', 1, 1],
  ])('the agent\'s sealed retry payload is kept when it is merged into task-sent in one batch (%s)', async (_label, sentAt, agentAt) => {
    const id = `t-sealed-${sentAt}-${agentAt}`;
    const sealed = Buffer.from('sealed-retry-payload');
    await pipeline.offer('test', fromCelery(id, sentAt));
    await pipeline.offer('test', fromAgent(id, agentAt), undefined, sealed); // as agent ingest hands it over
    await pipeline.drained();
    expect(await enqueues(id)).toHaveLength(1);
    const { rows } = await db.query<{ sealed_payload: Buffer | null }>('SELECT sealed_payload FROM tasks WHERE task_id = $1', [id]);
    expect(rows[0]!.sealed_payload && Buffer.from(rows[0]!.sealed_payload).toString()).toBe('sealed-retry-payload');
  });

  test('a redelivered task-sent stays a duplicate, and the row keeps one enqueue', async () => {
    const id = 't-redelivered';
    const sent = fromCelery(id, 2);
    await send(sent, fromAgent(id, 1));
    await send(sent);
    expect(await enqueues(id)).toHaveLength(1);
  });

  test('each attempt keeps its own enqueue (a retry is sent again)', async () => {
    const id = 't-retried';
    await send(fromAgent(id, 1, 0), fromCelery(id, 2, 0));
    await send(taskEvent(id, 'started', 3, { retries: 0 }), taskEvent(id, 'retried', 4, { retries: 0, exception: 'E' }));
    await send(fromCelery(id, 6, 1), fromAgent(id, 5, 1));
    const rows = await enqueues(id);
    expect(rows.map((r) => r.fields.retries)).toEqual([0, 1]);
    for (const r of rows) merged(r.fields);
  });

  test('either alone stays visible: the agent without task-sent (task_send_sent_event off), task-sent without an agent', async () => {
    await send(fromAgent('t-agent-only', 1));
    await send(fromCelery('t-celery-only', 1));
    expect((await enqueues('t-agent-only')).map((r) => r.fields.recordedBy)).toEqual([AGENT_MARK]);
    expect((await enqueues('t-celery-only')).map((r) => r.fields.producer)).toEqual(['gen1@host']);
  });

  test('other engines are left alone: two enqueues of an RQ job stay two rows', async () => {
    const rq = (at: number) => taskEvent('t-rq', 'enqueued', at, { retries: 0 }, { engine: 'rq', worker: undefined });
    await send(rq(1), rq(2));
    expect(await enqueues('t-rq')).toHaveLength(2);
  });
});
