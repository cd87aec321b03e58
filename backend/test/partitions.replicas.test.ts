// Two replicas starting at once (or their hourly maintenance meeting) create the same day's
// partition of task_events: one creates it, the other finds it made, neither fails (at start, a
// failure there stops the service).
import pg from 'pg';
import type { Db } from '../src/db/db.js';
import { migrate } from '../src/db/migrate.js';
import { ensurePartitions, partitionName } from '../src/db/partitions.js';
import { openPostgres } from '../src/db/postgres.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

describe('task_events partitions made by two replicas at once (PostgreSQL)', () => {
  let url: string;
  let replicaA: Db;
  let replicaB: Db;
  beforeAll(async () => {
    url = await createTestDatabase('partitions_replicas');
    replicaA = openPostgres(url);
    await migrate(replicaA);
    replicaB = openPostgres(url);
  });
  afterAll(async () => {
    await replicaA?.close();
    await replicaB?.close();
  });

  test('both ask for the same day while neither has committed it: the day is made once and both succeed', async () => {
    const day = new Date(Date.UTC(2031, 0, 15, 12));
    // The first to create the day's table waits here (moving stragglers out of the default
    // partition) until the other has started creating it too: their overlap, made certain.
    const gate = new pg.Client({ connectionString: url });
    await gate.connect();
    let results: PromiseSettledResult<string[]>[];
    try {
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE task_events_default IN ACCESS EXCLUSIVE MODE');
      const both = Promise.allSettled([ensurePartitions(replicaA, day, 0, 0), ensurePartitions(replicaB, day, 0, 0)]);
      await eventually(async () => expect((await gate.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`,
      )).rows[0].n).toBe(2), 10_000, 20);
      await gate.query('COMMIT');
      results = await both;
    } finally {
      await gate.end();
    }
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok']);
    expect(results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))).toEqual([partitionName(day)]);
    const attached = await replicaA.query(`SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'task_events'::regclass AND c.relname = $1`, [partitionName(day)]);
    expect(attached.rows).toHaveLength(1);
  });
});
