// A queue action's task events are kept in the database until the pipeline has committed them:
// a service stopped (or killed) in the middle of a large purge's leaves the rest to the next one.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Db } from '../db/db.js';
import { openTestDb, STORAGES } from '../../test/helpers/storage.js';
import { createCommand } from './commands.js';
import { ActionFollowups, ROW_TASKS, type Followup, type OfferEvents } from './followups.js';

const log = pino({ level: 'silent' });
type Event = { id: string; taskId: string; kind: string; project: string; engine: string; occurredAt: number; fields: Record<string, unknown> };

/** A pipeline that commits what it is offered at once, keeping every event it saw. */
function committing(seen: Event[]): OfferEvents {
  return async (events, done) => {
    for (const ev of events) {
      seen.push(ev as unknown as Event);
      done();
    }
  };
}

describe.each(STORAGES)('queue action task events kept until recorded (%s)', (storage) => {
  let db: Db;
  const running: ActionFollowups[] = [];
  const followups = (offer: OfferEvents) => {
    const f = new ActionFollowups(db, offer, log);
    running.push(f);
    return f;
  };
  const command = async (kind = 'queue.purge') =>
    (await createCommand(db, { projectId: 1, idempotencyKey: randomUUID(), kind, engine: 'rq', target: 'reports', args: {}, requestedBy: 'ada' })).command;
  const left = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM command_followups')).rows[0]!.n;
  const purge = (commandId: number, n: number): Followup => ({
    commandId, kind: 'revoked', occurredAt: Date.parse('2026-12-07T10:00:00Z'), fields: { queue: 'reports', reason: 'purged from z4j by ada' },
    tasks: Array.from({ length: n }, (_, i) => ({ taskId: `t-${i}` })),
  });

  beforeAll(async () => {
    db = await openTestDb(storage, 'followups');
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((f) => f.stop()));
    await db.query('DELETE FROM command_followups');
  });
  afterAll(async () => {
    await db?.close();
  });

  test('every task gets its event, numbered through the rows, and nothing is left once committed', async () => {
    const seen: Event[] = [];
    const { id } = await command();
    await followups(committing(seen)).add(purge(id, ROW_TASKS + 2));
    await running[0]!.idle();
    expect(seen.length).toBe(ROW_TASKS + 2);
    expect(seen.at(-1)).toEqual({
      v: 1, type: 'task', id: `z4j-command-${id}-revoked-${ROW_TASKS + 1}`, engine: 'rq', project: 'default', kind: 'revoked',
      taskId: `t-${ROW_TASKS + 1}`, occurredAt: Date.parse('2026-12-07T10:00:00Z'), fields: { queue: 'reports', reason: 'purged from z4j by ada' },
    });
    expect(new Set(seen.map((ev) => ev.id)).size).toBe(ROW_TASKS + 2);
    expect(await left()).toBe(0);
  });

  test("a requeue's tasks each carry the attempt their rerun is", async () => {
    const seen: Event[] = [];
    const { id } = await command('queue.requeue_dead_letters');
    await followups(committing(seen)).add({ commandId: id, kind: 'enqueued', occurredAt: Date.now(), fields: { queue: 'mail' }, tasks: [{ taskId: 'a', attempt: 1 }, { taskId: 'b', attempt: 3 }] });
    await running[0]!.idle();
    expect(seen.map((ev) => [ev.taskId, ev.kind, ev.fields])).toEqual([['a', 'enqueued', { queue: 'mail', retries: 1 }], ['b', 'enqueued', { queue: 'mail', retries: 3 }]]);
  });

  test('a service stopped before its pipeline committed them leaves them to the next, which records them all', async () => {
    // The first service's pipeline takes the events but commits only the first 100 before it stops.
    const firstSeen: Event[] = [];
    let offered!: () => void;
    const wasOffered = new Promise<void>((r) => (offered = r));
    const first = followups(async (events, done) => {
      for (const ev of events) firstSeen.push(ev as unknown as Event);
      for (let i = 0; i < 100; i++) done();
      offered();
    });
    const { id } = await command();
    await first.add(purge(id, 2 * ROW_TASKS));
    await wasOffered;
    await first.stop();
    expect([firstSeen.length, await left()]).toEqual([ROW_TASKS, 2]);

    // The next service records both rows (the first again: the pipeline keeps one of each event id).
    const seen: Event[] = [];
    await followups(committing(seen)).drain();
    expect(seen.map((ev) => ev.taskId)).toEqual(purge(id, 2 * ROW_TASKS).tasks.map((t) => t.taskId));
    expect(await left()).toBe(0);
  });

  test("a row another replica holds is left to it until its claim runs out", async () => {
    const { id } = await command();
    await db.query(
      `INSERT INTO command_followups (command_id, kind, occurred_at, fields, first_index, task_ids, claimed_until)
       VALUES ($1, 'revoked', now(), '{}', 0, ARRAY['held'], now() + interval '1 minute'), ($1, 'revoked', now(), '{}', 1, ARRAY['crashed'], now() - interval '1 second')`,
      [id],
    );
    const seen: Event[] = [];
    await followups(committing(seen)).drain();
    expect(seen.map((ev) => ev.taskId)).toEqual(['crashed']);
    expect(await left()).toBe(1);
  });

  test('they go with their command (a project deleted)', async () => {
    const { id } = await command();
    const stuck = followups(async () => undefined); // never commits
    await stuck.add(purge(id, 3));
    await stuck.stop();
    await db.query('DELETE FROM commands WHERE id = $1', [id]);
    expect(await left()).toBe(0);
  });
});
