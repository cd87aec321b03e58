import { BatchWriter } from '../ingest/batchWriter.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import type { Db } from './db.js';

const count = async (db: Db, sql: string) => (await db.query<{ n: number }>(sql)).rows[0]!.n;

// tasks have no per-row foreign key to projects (migration 0011): deleting a
// project must still take its ingested data with it, and only its own.
describe.each(STORAGES)('deleting a project on %s', (storage) => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb(storage, 'project_delete');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('removes its tasks and timeline, and leaves other projects alone', async () => {
    await db.query(`INSERT INTO projects (slug, name) VALUES ('gone', 'Gone')`);
    const now = Date.now();
    const event = (project: string, taskId: string) => ({ v: 1 as const, type: 'task' as const, id: `${project}-${taskId}`, engine: 'rq' as const, project, kind: 'received' as const, taskId, occurredAt: now, fields: {} });
    await new BatchWriter(db).write([event('gone', 't1'), event('gone', 't2'), event('default', 't3')]);
    expect(await count(db, 'SELECT count(*)::int AS n FROM tasks')).toBe(3);

    await db.query(`DELETE FROM projects WHERE slug = 'gone'`);

    expect((await db.query('SELECT task_id FROM tasks')).rows).toEqual([{ task_id: 't3' }]);
    expect((await db.query('SELECT task_id FROM task_events')).rows).toEqual([{ task_id: 't3' }]);
  });

  it('removes its schedules and their runs, and leaves other projects alone', async () => {
    await db.query(`INSERT INTO projects (slug, name) VALUES ('gone2', 'Gone')`);
    for (const [id, project] of [['sch_gone', 'gone2'], ['sch_kept', 'default']]) {
      await db.query(
        `INSERT INTO schedules (id, project_id, name, engine, task_name, sealed_call, cron, next_run_at, created_by, updated_by)
         SELECT $1, id, 'nightly', 'celery', 't', '\\x00', '@daily', now(), 'test', 'test' FROM projects WHERE slug = $2`,
        [id, project],
      );
      await db.query(`INSERT INTO schedule_runs (schedule_id, project_id, trigger, state) SELECT id, project_id, 'manual', 'sent' FROM schedules WHERE id = $1`, [id]);
    }
    await db.query(`DELETE FROM projects WHERE slug = 'gone2'`);
    expect((await db.query('SELECT id FROM schedules')).rows).toEqual([{ id: 'sch_kept' }]);
    expect((await db.query('SELECT schedule_id FROM schedule_runs')).rows).toEqual([{ schedule_id: 'sch_kept' }]);
  });

  it('refuses events of a project deleted after a writer learnt its id, storing nothing for it', async () => {
    await db.query(`INSERT INTO projects (slug, name) VALUES ('brief', 'Brief')`);
    const writer = new BatchWriter(db);
    const event = (id: string) => ({ v: 1 as const, type: 'task' as const, id, engine: 'rq' as const, project: 'brief', kind: 'received' as const, taskId: id, occurredAt: Date.now(), fields: {} });
    expect((await writer.write([event('b1')])).persisted).toHaveLength(1);
    await db.query(`DELETE FROM projects WHERE slug = 'brief'`);

    // The writer still has the id: the batch fails as a retryable conflict, and its retry knows the project is gone.
    const withPayload = { ...event('b2'), sealedPayload: Buffer.from('sealed') };
    await expect(writer.write([withPayload])).rejects.toMatchObject({ code: '40001' });
    expect((await writer.write([withPayload])).unknownProject).toHaveLength(1);
    expect(await count(db, `SELECT count(*)::int AS n FROM tasks WHERE task_id LIKE 'b%'`)).toBe(0);
    expect(await count(db, `SELECT count(*)::int AS n FROM task_events WHERE task_id LIKE 'b%'`)).toBe(0);
  });
});
