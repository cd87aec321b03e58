// A run sent through an agent is shown as its command settled: sent, or failed with the
// command's reason and without a link to a task that was never sent.
import type { Db } from '../db/db.js';
import { openTestDb, STORAGES } from '../../test/helpers/storage.js';
import { getRun } from './runs.js';

describe.each(STORAGES)('a schedule run as its command settled, on %s', (storage) => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb(storage, 'schedule_runs');
    await db.query(`INSERT INTO schedules (id, project_id, name, engine, task_name, sealed_call, cron, created_by, updated_by)
                    VALUES ('sch_a', 1, 'a', 'huey', 'jobs.a', '\\x00', '@daily', 'test', 'test')`);
  });
  afterAll(async () => {
    await db?.close();
  });

  async function dispatchedRun(commandState: string, outcome: Record<string, unknown> | null): Promise<string> {
    const c = (await db.query<{ id: string }>(
      `INSERT INTO commands (project_id, idempotency_key, kind, engine, target, state, outcome, requested_by)
       VALUES (1, gen_random_uuid()::text, 'schedule.run', 'huey', 'sch_a', $1, $2::jsonb, 'schedule:a') RETURNING id::text AS id`,
      [commandState, outcome === null ? null : JSON.stringify(outcome)])).rows[0]!;
    return (await db.query<{ id: string }>(
      `INSERT INTO schedule_runs (schedule_id, project_id, trigger, state, task_id, command_id) VALUES ('sch_a', 1, 'cron', 'dispatched', 'new-task', $1) RETURNING id::text AS id`,
      [c.id])).rows[0]!.id;
  }

  test('the agent took it and reported the enqueue: sent, with its task', async () => {
    expect(await getRun(db, await dispatchedRun('succeeded', null))).toMatchObject({ state: 'sent', taskId: 'new-task', error: null });
  });

  test('the agent refused it: failed, with the reason and no task', async () => {
    expect(await getRun(db, await dispatchedRun('failed', { message: 'no task named jobs.a in this Huey' }))).toMatchObject({ state: 'failed', taskId: null, error: 'no task named jobs.a in this Huey' });
  });

  test('no agent answered in time: failed, no task', async () => {
    expect(await getRun(db, await dispatchedRun('timed_out', null))).toMatchObject({ state: 'failed', taskId: null, error: 'the command timed_out' });
  });

  test('still waiting for the agent: dispatched, with the task it will be', async () => {
    expect(await getRun(db, await dispatchedRun('dispatched', null))).toMatchObject({ state: 'dispatched', taskId: 'new-task' });
  });
});
