import { BatchWriter } from '../ingest/batchWriter.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import { ensurePartitions, partitionName } from './partitions.js';
import type { Db } from './db.js';

const partitions = async (db: Db) =>
  (await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'task_events'::regclass ORDER BY 1`)).rows.map((r) => r.name);

describe.each(STORAGES)('task_events partitions on %s', (storage) => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb(storage, 'partitions');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('creates a partition per day ahead, once, and moves stragglers out of the default one', async () => {
    const today = new Date(Date.UTC(2026, 10, 23, 15));
    const created = await ensurePartitions(db, today, 3);
    expect(created).toEqual(['task_events_20261122', 'task_events_20261123', 'task_events_20261124', 'task_events_20261125', 'task_events_20261126']);
    expect(await ensurePartitions(db, today, 3)).toEqual([]);

    // An event from a day with no partition yet lands in the default partition...
    const later = Date.UTC(2026, 11, 5, 10);
    await new BatchWriter(db).write([{ v: 1, type: 'task', id: 'late-1', engine: 'rq', project: 'default', kind: 'received', taskId: 'p1', occurredAt: later, fields: {} }]);
    expect((await db.query(`SELECT event_id FROM task_events_default`)).rows).toEqual([{ event_id: 'late-1' }]);
    // ...and moves into that day's partition when it is created.
    await ensurePartitions(db, new Date(later), 0, 0);
    expect(await partitions(db)).toContain(partitionName(new Date(later)));
    expect((await db.query(`SELECT event_id FROM task_events_default`)).rows).toEqual([]);
    expect((await db.query(`SELECT event_id FROM ${partitionName(new Date(later))}`)).rows).toEqual([{ event_id: 'late-1' }]);
  });
});
