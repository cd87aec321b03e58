// Two replicas starting at once (or their hourly maintenance meeting) create the same day's
// partition of task_events: one creates it, the other finds it made, neither fails (at start, a
// failure there stops the service).
import { ensurePartitions, partitionName } from '../src/db/partitions.js';
import { twoReplicas, whileHeld } from './helpers/replicas.js';

describe('task_events partitions made by two replicas at once (PostgreSQL)', () => {
  const replicas = twoReplicas('partitions_replicas');

  test('both ask for the same day while neither has committed it: the day is made once and both succeed', async () => {
    const day = new Date(Date.UTC(2031, 0, 15, 12));
    // The first to create the day's table waits here (moving stragglers out of the default
    // partition) until the other has started creating it too: their overlap, made certain.
    const results = await whileHeld(replicas.url, (gate) => gate.query('LOCK TABLE task_events_default IN ACCESS EXCLUSIVE MODE'),
      () => Promise.allSettled([ensurePartitions(replicas.a, day, 0, 0), ensurePartitions(replicas.b, day, 0, 0)]), 2);
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok']);
    expect(results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))).toEqual([partitionName(day)]);
    const attached = await replicas.a.query(`SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'task_events'::regclass AND c.relname = $1`, [partitionName(day)]);
    expect(attached.rows).toHaveLength(1);
  });
});
