// An RQ schedule may only send a task this project has seen on RQ: RQ's workers call whatever
// function a job names (os.system, eval), the other engines only their registered tasks.
import type { Db } from '../db/db.js';
import { openTestDb, STORAGES } from '../../test/helpers/storage.js';
import { taskNameRefusal } from './taskNames.js';

describe.each(STORAGES)('which task names a schedule may send, on %s', (storage) => {
  let db: Db;
  let mine: number;
  let theirs: number;
  beforeAll(async () => {
    db = await openTestDb(storage, 'task_names');
    mine = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'default'`)).rows[0]!.id;
    theirs = (await db.query<{ id: number }>(`INSERT INTO projects (slug, name) VALUES ('other', 'Other') RETURNING id`)).rows[0]!.id;
    const seen = (project: number, engine: string, name: string, id: string) => db.query(
      `INSERT INTO tasks (project_id, engine, task_id, name, state, attempt_at, state_at, first_seen_at, last_event_at)
       VALUES ($1, $2, $3, $4, 'succeeded', now(), now(), now(), now())`, [project, engine, id, name]);
    await seen(mine, 'rq', 'billing.jobs.close_day', 't1');
    await seen(mine, 'celery', 'reports.build', 't2');
    await seen(theirs, 'rq', 'theirs.jobs.sync', 't3');
  });
  afterAll(async () => {
    await db?.close();
  });

  test('RQ: a function this project enqueued on RQ', async () => {
    expect(await taskNameRefusal(db, mine, 'rq', 'billing.jobs.close_day')).toBeNull();
  });

  test.each([
    ['a builtin', 'eval'],
    ['a module function the application never enqueued', 'os.system'],
    ['a task of the project seen on another engine', 'reports.build'],
    ['a task another project enqueued', 'theirs.jobs.sync'],
  ])('RQ: refused, %s', async (_what, name) => {
    expect(await taskNameRefusal(db, mine, 'rq', name)).toMatch(/workers run any function a job names.*is not one$/);
  });

  test('engines that run only registered tasks take any name (an unknown one fails on the worker)', async () => {
    for (const engine of ['celery', 'dramatiq', 'huey', 'arq', 'taskiq'] as const) {
      expect(await taskNameRefusal(db, mine, engine, 'not.seen.yet')).toBeNull();
    }
  });
});
