// A purge removes tasks no engine will ever report on again: where the broker names them, z4j
// records each revoked ("purged from z4j by …"), so none stays enqueued in the explorer for ever.
// Where the broker only counts (a RabbitMQ queue purge), z4j marks the tasks it had waiting there,
// when they are no more than the broker removed.
// A requeue of dead letters puts tasks back: each shows waiting again, in the attempt its rerun is.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Db } from '../db/db.js';
import type { EngineDriver, Purged } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

interface Detail {
  task: { state: string; name: string | null; queue: string | null };
  events: { kind: string; fields: Record<string, unknown> }[];
}

describe('the tasks a queue action removes or puts back', () => {
  let db: Db;
  let api: ReturnType<typeof testApp>;
  /** What each fake broker's next purge answers. */
  const answers: Partial<Record<Engine, Purged>> = {};
  const driver = (engine: Engine): EngineDriver => ({
    engine,
    capabilities: { 'queue.purge': { via: 'broker' }, 'queue.purge_filtered': { via: 'broker' }, 'queue.requeue_dead_letters': { via: 'broker' } },
    requeueDeadLetters: async () => ({ requeued: 1, tasks: [{ taskId: 'dead-1', attempt: 1 }] }),
    purgeQueue: async () => answers[engine]!,
    purgeMatching: async () => answers[engine]!,
    countMatching: async () => ({ matched: answers[engine]!.purged, scanned: 10, complete: true, unreadable: 0 }),
    queueDepth: async () => answers[engine]!.purged,
  });
  const enqueued = (engine: Engine, taskId: string, queue = 'reports') =>
    api.pipeline.offer('agent', { v: 1, id: randomUUID(), type: 'task', kind: 'enqueued', engine, project: 'default', taskId, occurredAt: Date.now() - 60_000, fields: { name: 'tasks.report', queue } });
  const detail = async (engine: Engine, taskId: string) => {
    const r = await request(api.app).get(`/api/tasks/${engine}/${taskId}`).set(authHeaders('viewer'));
    expect(r.status).toBe(200);
    return r.body as Detail;
  };
  /** Previews then confirms, as the plugin does; answers the command once its revocations are written. */
  const purge = async (engine: Engine, queue: string, filter?: { name: string }) => {
    const preview = await request(api.app).post(`/api/queues/${engine}/${queue}/purge-preview`).set(authHeaders('admin')).send(filter ? { filter } : {});
    expect(preview.status).toBe(200);
    const r = await request(api.app).post(`/api/queues/${engine}/${queue}/purge`).set(authHeaders('admin')).send({ token: preview.body.token, ...(filter ? { filter } : {}) });
    expect(r.status).toBe(202);
    await api.ctx.actions.recorded();
    await api.pipeline.drained();
    return r.body.command as { state: string; outcome: Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await openTestDb('pglite', 'queue_action_tasks');
    api = testApp(db, { drivers: new Map<Engine, EngineDriver>([['rq', driver('rq')], ['dramatiq', driver('dramatiq')]]) });
    api.pipeline.start();
    for (const id of ['waiting-1', 'waiting-2', 'waiting-3', 'kept']) await enqueued('rq', id);
    await api.pipeline.offer('agent', { v: 1, id: randomUUID(), type: 'task', kind: 'started', engine: 'rq', project: 'default', taskId: 'kept', occurredAt: Date.now() - 30_000, fields: {} });
    await enqueued('dramatiq', 'on-rabbit', 'mail');
    await enqueued('dramatiq', 'dead-1', 'mail');
    for (const kind of ['started', 'failed', 'rejected']) {
      await api.pipeline.offer('agent', { v: 1, id: randomUUID(), type: 'task', kind, engine: 'dramatiq', project: 'default', taskId: 'dead-1', occurredAt: Date.now() - 50_000, fields: { retries: 0 } });
    }
    await api.pipeline.drained();
  });
  afterAll(async () => {
    await api?.pipeline.stop();
    await db?.close();
  });

  test('each task the broker names is recorded revoked, saying who purged it; the others keep their state', async () => {
    // One the explorer never saw (its producer had no agent): it shows too, as what was purged.
    answers.rq = { purged: 3, taskIds: ['waiting-1', 'waiting-2', 'never-seen'] };
    const command = await purge('rq', 'reports');
    expect([command.state, command.outcome]).toEqual(['succeeded', { purged: 3, revoked: 3 }]);
    for (const id of ['waiting-1', 'waiting-2', 'never-seen']) {
      const shown = await detail('rq', id);
      const revoked = shown.events.find((ev) => ev.kind === 'revoked');
      expect([id, shown.task.state, shown.task.queue, revoked?.fields.reason]).toEqual([id, 'revoked', 'reports', 'purged from z4j by ada']);
    }
    expect((await detail('rq', 'waiting-3')).task.state).toBe('enqueued');
    expect((await detail('rq', 'kept')).task.state).toBe('started');
  });

  test('a filtered purge records its tasks revoked under the name it matched', async () => {
    answers.rq = { purged: 1, taskIds: ['waiting-3'] };
    const command = await purge('rq', 'reports', { name: 'tasks.report' });
    expect(command.outcome).toEqual({ purged: 1, revoked: 1, filter: { name: 'tasks.report' } });
    const shown = await detail('rq', 'waiting-3');
    expect([shown.task.state, shown.task.name]).toEqual(['revoked', 'tasks.report']);
  });

  test('where the broker only counts, the tasks z4j had waiting there are marked revoked, when no more than it removed', async () => {
    answers.dramatiq = { purged: 2 };
    const command = await purge('dramatiq', 'mail');
    expect(command.outcome).toEqual({
      purged: 2, revoked: 1,
      message: "the broker says how many messages it removed, not which: z4j marked the tasks it had waiting there (a worker's report of one wins)",
    });
    const shown = await detail('dramatiq', 'on-rabbit');
    expect([shown.task.state, shown.events.at(-1)?.fields]).toEqual(['revoked', {
      queue: 'mail', retries: 0, markedBy: 'z4j', inferred: true, reason: 'purged by ada (the broker counted 2 messages removed, not which; this task was waiting in the queue)',
    }]);
    // The failed one in that queue had left it: it keeps its state.
    expect((await detail('dramatiq', 'dead-1')).task.state).toBe('failed');
  });

  test('where the broker removed fewer than z4j had waiting, or none of them, no task is marked', async () => {
    for (const id of ['bulk-1', 'bulk-2']) await enqueued('dramatiq', id, 'bulk');
    await api.pipeline.drained();
    answers.dramatiq = { purged: 1 };
    expect((await purge('dramatiq', 'bulk')).outcome).toEqual({
      purged: 1, message: 'the broker says how many messages it removed, not which, and z4j had more tasks waiting there than that: they keep their state in z4j',
    });
    expect([(await detail('dramatiq', 'bulk-1')).task.state, (await detail('dramatiq', 'bulk-2')).task.state]).toEqual(['enqueued', 'enqueued']);
    answers.dramatiq = { purged: 3 };
    expect((await purge('dramatiq', 'mail')).outcome).toEqual({ purged: 3, message: 'the broker says how many messages it removed, not which; z4j had none of their tasks waiting there' });
  });

  test('where the broker only counts, a task sent before the queue was last seen empty is not taken for purged (its reports were lost)', async () => {
    await enqueued('dramatiq', 'ran-long-ago', 'reports-2'); // sent a minute ago, and ran: its worker's events were lost
    await api.pipeline.offer('agent', { v: 1, id: randomUUID(), type: 'task', kind: 'enqueued', engine: 'dramatiq', project: 'default', taskId: 'fresh', occurredAt: Date.now() - 1000, fields: { queue: 'reports-2' } });
    await api.pipeline.drained();
    await db.query(`UPDATE queues SET empty_at = now() - interval '30 seconds' WHERE engine = 'dramatiq' AND name = 'reports-2'`);
    answers.dramatiq = { purged: 4 };
    expect((await purge('dramatiq', 'reports-2')).outcome).toMatchObject({ purged: 4, revoked: 1 });
    expect([(await detail('dramatiq', 'ran-long-ago')).task.state, (await detail('dramatiq', 'fresh')).task.state]).toEqual(['enqueued', 'revoked']);
    // The purge emptied it: what was sent before it is not taken for purged by the next one either.
    const { rows } = await db.query<{ recent: boolean }>(`SELECT empty_at > now() - interval '1 minute' AS recent FROM queues WHERE engine = 'dramatiq' AND name = 'reports-2'`);
    expect(rows).toEqual([{ recent: true }]);
  });

  test('a purge z4j cannot write down for its tasks still succeeds, and says they keep their state', async () => {
    answers.rq = { purged: 2, taskIds: ['lost-1', 'lost-2'] };
    await db.query('ALTER TABLE command_followups RENAME TO command_followups_away');
    try {
      const command = await purge('rq', 'reports');
      expect([command.state, command.outcome]).toEqual(['succeeded', { purged: 2, message: 'z4j could not mark the 2 tasks revoked: they keep their state in z4j' }]);
    } finally {
      await db.query('ALTER TABLE command_followups_away RENAME TO command_followups');
    }
  });

  test('a requeue of dead letters shows each task waiting again, in the attempt its rerun is; the rerun then ends it', async () => {
    expect((await detail('dramatiq', 'dead-1')).task.state).toBe('failed');
    const r = await request(api.app).post('/api/queues/dramatiq/mail/requeue-dead-letters').set(authHeaders('operator')).set('idempotency-key', randomUUID()).send({});
    expect([r.status, r.body.command.outcome]).toEqual([202, { requeued: 1 }]);
    await api.ctx.actions.recorded();
    await api.pipeline.drained();
    const waiting = await detail('dramatiq', 'dead-1');
    expect([waiting.task.state, waiting.events.at(-1)?.kind, waiting.events.at(-1)?.fields]).toEqual(['enqueued', 'enqueued', { queue: 'mail', retries: 1, reason: 'requeued from the dead letters by otto' }]);
    await api.pipeline.offer('agent', { v: 1, id: randomUUID(), type: 'task', kind: 'succeeded', engine: 'dramatiq', project: 'default', taskId: 'dead-1', occurredAt: Date.now(), fields: { retries: 1 } });
    await api.pipeline.drained();
    expect((await detail('dramatiq', 'dead-1')).task.state).toBe('succeeded');
  });
});

describe("a purge's revocations, when the service stops while recording them", () => {
  const TASKS = 25_000; // three rows of command_followups
  const ids = Array.from({ length: TASKS }, (_, i) => `gone-${i}`);
  const rq: EngineDriver = {
    engine: 'rq',
    capabilities: { 'queue.purge': { via: 'broker' } },
    purgeQueue: async () => ({ purged: TASKS, taskIds: ids }),
    queueDepth: async () => TASKS,
  };
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb('pglite', 'purge_restart');
  });
  afterAll(async () => {
    await db?.close();
  });

  test('are all recorded by the next service, once', async () => {
    const seen = testApp(db);
    seen.pipeline.start();
    await seen.pipeline.offer('agent', { v: 1, id: randomUUID(), type: 'task', kind: 'enqueued', engine: 'rq', project: 'default', taskId: 'gone-0', occurredAt: Date.now() - 60_000, fields: { queue: 'bulk' } });
    await seen.pipeline.drained();
    await seen.pipeline.stop();
    // A service whose pipeline is stuck (a database gone slow): it takes the events, writes none.
    const first = testApp(db, { drivers: new Map([['rq', rq]]) });
    const preview = await request(first.app).post('/api/queues/rq/bulk/purge-preview').set(authHeaders('admin')).send({});
    const r = await request(first.app).post('/api/queues/rq/bulk/purge').set(authHeaders('admin')).send({ token: preview.body.token });
    expect([r.status, r.body.command.outcome]).toEqual([202, { purged: TASKS, revoked: TASKS }]);
    // Stopped, as service.stop does: every row is left in the database (before this, what was
    // not recorded within 10 s of the stop was lost).
    await first.ctx.actions.followups.stop();
    await first.pipeline.stop();
    const left = await db.query<{ n: number; claimed: number }>('SELECT count(*)::int AS n, count(claimed_until)::int AS claimed FROM command_followups');
    expect(left.rows[0]).toEqual({ n: 3, claimed: 0 });

    const next = testApp(db, { drivers: new Map([['rq', rq]]) });
    next.pipeline.start();
    await next.ctx.actions.followups.drain();
    await next.pipeline.drained();
    const { rows } = await db.query<{ tasks: number; events: number; ids: number; followups: number }>(
      `SELECT (SELECT count(*)::int FROM tasks WHERE engine = 'rq' AND state = 'revoked') AS tasks,
              (SELECT count(*)::int FROM task_events WHERE engine = 'rq' AND kind = 'revoked') AS events,
              (SELECT count(DISTINCT event_id)::int FROM task_events WHERE engine = 'rq' AND kind = 'revoked') AS ids,
              (SELECT count(*)::int FROM command_followups) AS followups`,
    );
    expect(rows[0]).toEqual({ tasks: TASKS, events: TASKS, ids: TASKS, followups: 0 });
    await next.pipeline.stop();
  });
});
