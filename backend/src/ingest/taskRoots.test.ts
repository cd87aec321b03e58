import { BatchWriter } from './batchWriter.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import type { Db } from '../db/db.js';
import type { TaskEnvelope } from './envelope.js';

// Events that name a parent and no root (a Huey step run by a process that did not know its
// pipeline's first task) take the parent's root when the parent is stored before or with them.
describe.each(STORAGES)('roots taken from the parent on %s', (storage) => {
  let db: Db;
  let n = 0;
  beforeAll(async () => {
    db = await openTestDb(storage, 'task_roots');
  });
  afterAll(async () => {
    await db?.close();
  });

  const event = (taskId: string, kind: TaskEnvelope['kind'], fields: TaskEnvelope['fields'] = {}, engine: TaskEnvelope['engine'] = 'huey'): TaskEnvelope =>
    ({ v: 1, type: 'task', id: `e${++n}`, engine, project: 'default', kind, taskId, occurredAt: Date.now() + n, fields });
  const rootOf = async (taskId: string) => (await db.query<{ root: string | null }>('SELECT root_id AS root FROM tasks WHERE task_id = $1', [taskId])).rows[0]?.root;

  it('a pipeline run across processes: each step gets the first task as its root, in one batch or many', async () => {
    const writer = new BatchWriter(db);
    // The producer names the head its own root; the process that ran the head sends step 2 with
    // it; the process that ran step 2 (not knowing the head) sends step 3 with its parent only.
    await writer.write([event('p1', 'enqueued', { rootId: 'p1' })]);
    await writer.write([event('p2', 'enqueued', { parentId: 'p1', rootId: 'p1' })]);
    await writer.write([event('p2', 'started'), event('p3', 'enqueued', { parentId: 'p2' })]);
    await writer.write([event('p3', 'started', { parentId: 'p2' }), event('p3', 'succeeded', { parentId: 'p2' })]);
    expect([await rootOf('p1'), await rootOf('p2'), await rootOf('p3')]).toEqual(['p1', 'p1', 'p1']);
  });

  it('a child of a top-level task (no root of its own) takes the task as its root', async () => {
    await new BatchWriter(db).write([event('t1', 'started'), event('c1', 'enqueued', { parentId: 't1' })]);
    expect(await rootOf('c1')).toBe('t1');
    expect(await rootOf('t1')).toBeNull(); // the workflow query finds a root by its id
  });

  it('a child stored before its parent stays rootless (the workflow graph walks parents)', async () => {
    const writer = new BatchWriter(db);
    await writer.write([event('c2', 'enqueued', { parentId: 'm2' })]);
    await writer.write([event('m2', 'enqueued', { parentId: 'h2', rootId: 'h2' })]);
    expect(await rootOf('c2')).toBeNull();
  });

  it('a parent whose own root is not known yet gives none (its id would be a wrong root)', async () => {
    const writer = new BatchWriter(db);
    await writer.write([event('m3', 'started', { parentId: 'h3' })]);
    await writer.write([event('c3', 'enqueued', { parentId: 'm3' })]);
    expect(await rootOf('c3')).toBeNull();
  });

  it('a root taken so is kept when the task is folded again from its timeline (a late event)', async () => {
    const writer = new BatchWriter(db);
    await writer.write([event('h4', 'enqueued', { rootId: 'h4' }), event('c4', 'started', { parentId: 'h4' })]);
    const early = event('c4', 'enqueued', { parentId: 'h4' });
    early.occurredAt = Date.now() - 60_000;
    await writer.write([early]);
    expect(await rootOf('c4')).toBe('h4');
  });

  it('a root the events name is never replaced', async () => {
    const writer = new BatchWriter(db);
    await writer.write([event('h5', 'enqueued', { rootId: 'h5' })]);
    await writer.write([event('c5', 'enqueued', { parentId: 'h5', rootId: 'elsewhere' })]);
    expect(await rootOf('c5')).toBe('elsewhere');
  });
});
