import type { AuditEntry } from '../audit/chain.js';
import type { Db } from '../db/db.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { createCommand, IdempotencyConflict, keepAlive, reconcileCommands, transition } from './commands.js';

// One PGlite database for the file: commands are keyed per test.
let db: Db;
let n = 0;
const base = () => ({ projectId: 1, idempotencyKey: `key-${++n}`, kind: 'task.cancel', engine: 'celery', target: `t-${n}`, args: { a: 1, b: [1, 2] }, requestedBy: 'otto' });

async function task(taskId: string, state: string): Promise<void> {
  await db.query(
    `INSERT INTO tasks (project_id, engine, task_id, state, attempt_at, state_at, first_seen_at, last_event_at)
     VALUES (1, 'celery', $1, $2, now(), now(), now(), now())`,
    [taskId, state],
  );
}

beforeAll(async () => {
  db = await openTestDb('pglite', 'commands');
});
afterAll(() => db.close());

describe('commands', () => {
  test('the same key returns the first command; the same request in another key order too', async () => {
    const c = base();
    const first = await createCommand(db, c);
    const again = await createCommand(db, { ...c, args: { b: [1, 2], a: 1 } });
    expect(first.created).toBe(true);
    expect(again).toEqual({ command: first.command, created: false });
  });

  test('a key reused for a different request is refused', async () => {
    const c = base();
    await createCommand(db, c);
    await expect(createCommand(db, { ...c, kind: 'task.terminate' })).rejects.toThrow(IdempotencyConflict);
    await expect(createCommand(db, { ...c, target: 'other' })).rejects.toThrow(IdempotencyConflict);
    await expect(createCommand(db, { ...c, args: { a: 2 } })).rejects.toThrow(IdempotencyConflict);
  });

  test('a finished command never changes again', async () => {
    const { command } = await createCommand(db, base());
    expect((await transition(db, command.id, 'dispatched'))!.state).toBe('dispatched');
    expect((await transition(db, command.id, 'succeeded', { x: 1 }))!.outcome).toEqual({ x: 1 });
    expect(await transition(db, command.id, 'failed')).toBeNull();
  });

  test('the reconciler settles cancels from task state and times out the rest', async () => {
    const revoked = await createCommand(db, base());
    const ranFirst = await createCommand(db, base());
    const waiting = await createCommand(db, base());
    const stale = await createCommand(db, base());
    for (const c of [revoked, ranFirst, waiting, stale]) await transition(db, c.command.id, 'dispatched');
    await task(revoked.command.target, 'revoked');
    await task(ranFirst.command.target, 'succeeded');
    await task(waiting.command.target, 'received');
    await db.query(`UPDATE commands SET created_at = now() - interval '10 minutes' WHERE id = $1`, [stale.command.id]);
    expect(await reconcileCommands(db, 120)).toBe(3);
    const state = async (id: number) => (await db.query<{ state: string; outcome: { message: string } }>('SELECT state, outcome FROM commands WHERE id = $1', [id])).rows[0]!;
    expect(await state(revoked.command.id)).toMatchObject({ state: 'succeeded' });
    expect(await state(ranFirst.command.id)).toMatchObject({ state: 'failed', outcome: { message: 'the task finished first (succeeded)' } });
    expect((await state(waiting.command.id)).state).toBe('dispatched');
    expect(await state(stale.command.id)).toMatchObject({ state: 'timed_out' });
  });

  test("a cancel the workers' agents took is taken back once its task ran anyway, while they remember it (audited)", async () => {
    const ran = await createCommand(db, base());
    const skipped = await createCommand(db, base());
    const waiting = await createCommand(db, base());
    const long = await createCommand(db, base());
    const confirmed = await createCommand(db, base()); // by the broker: no agent took it
    for (const c of [ran, skipped, waiting, long, confirmed]) await transition(db, c.command.id, 'dispatched');
    for (const c of [ran, skipped, waiting, long]) await transition(db, c.command.id, 'succeeded', { takenBy: 'w1', remembered: true, message: 'w1 took it' });
    await transition(db, confirmed.command.id, 'succeeded', { confirmed: true });
    await task(ran.command.target, 'succeeded');
    await db.query(`UPDATE tasks SET worker = 'w2' WHERE task_id = $1`, [ran.command.target]);
    await task(skipped.command.target, 'revoked');
    await task(waiting.command.target, 'received');
    await task(long.command.target, 'started');
    await db.query(`UPDATE commands SET updated_at = now() - interval '25 hours' WHERE id = $1`, [long.command.id]); // the agents forgot it
    await task(confirmed.command.target, 'started');
    const audited: AuditEntry[] = [];
    await reconcileCommands(db, 120, { append: async (e: AuditEntry) => void audited.push(e) });
    const state = async (id: number) => (await db.query<{ state: string; outcome: Record<string, unknown> }>('SELECT state, outcome FROM commands WHERE id = $1', [id])).rows[0]!;
    expect(await state(ran.command.id)).toMatchObject({ state: 'failed', outcome: { takenBy: 'w1', taskState: 'succeeded',
      message: 'the task ran anyway (succeeded on w2), though w1 had said it would skip it: a worker that did not know the cancel took it (started after it, or without the z4j agent)' } });
    expect(audited.filter((e) => e.detail?.commandId === ran.command.id).map((e) => [e.action, e.outcome])).toEqual([['task.cancel', 'error']]);
    for (const c of [skipped, waiting, long, confirmed]) expect((await state(c.command.id)).state).toBe('succeeded');
  });

  test("a settled command is audited under what it acted on: a task's as engine/task, a schedule's run under its schedule, as the schedule's own rows are", async () => {
    const terminate = await createCommand(db, { ...base(), kind: 'task.terminate' });
    const run = await createCommand(db, { ...base(), kind: 'schedule.run', engine: 'huey', target: 'f3b1c2d4-schedule' });
    const audited: AuditEntry[] = [];
    for (const c of [terminate, run]) {
      await transition(db, c.command.id, 'dispatched');
      await db.query(`UPDATE commands SET created_at = now() - interval '10 minutes' WHERE id = $1`, [c.command.id]);
    }
    await reconcileCommands(db, 120, { append: async (e: AuditEntry) => void audited.push(e) });
    const ids = [terminate.command.id, run.command.id];
    expect(audited.filter((e) => ids.includes(e.detail?.commandId as number)).map((e) => [e.action, e.target, e.outcome]).sort()).toEqual([
      ['schedule.run', 'schedule:f3b1c2d4-schedule', 'error'],
      ['task.terminate', `celery/${terminate.command.target}`, 'error'],
    ]);
  });

  test('a pending command the service is still running is not timed out, however long it runs; one nobody runs any more is', async () => {
    const running = await createCommand(db, { ...base(), kind: 'queue.requeue_dead_letters' });
    const orphan = await createCommand(db, { ...base(), kind: 'queue.purge' });
    const old = `UPDATE commands SET created_at = now() - interval '10 minutes', updated_at = now() - interval '10 minutes' WHERE id = $1`;
    await db.query(old, [running.command.id]);
    await db.query(old, [orphan.command.id]);
    const stop = keepAlive(db, running.command.id, 1); // a beat every 250 ms
    try {
      await new Promise((r) => setTimeout(r, 600));
      expect(await reconcileCommands(db, 120)).toBe(1);
    } finally {
      stop();
    }
    const state = async (id: number) => (await db.query<{ state: string }>('SELECT state FROM commands WHERE id = $1', [id])).rows[0]!.state;
    expect([await state(running.command.id), await state(orphan.command.id)]).toEqual(['pending', 'timed_out']);
    expect((await transition(db, running.command.id, 'succeeded', { requeued: 4000 }))?.state).toBe('succeeded');
  });
});
