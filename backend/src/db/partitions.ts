// Daily partitions of task_events, created ahead of time. Rows that already landed in the
// default partition for a day are moved into that day's new partition, so creating a
// partition never fails on stragglers.
import type { Db } from './db.js';

const DAY_MS = 86_400_000;

export function partitionName(day: Date): string {
  return `task_events_${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** Our advisory lock for making partitions (the migrations' is 0x7a346a01). */
const PARTITION_LOCK = 0x7a346a02;

const ATTACHED_SQL = `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'task_events'::regclass`;

export async function ensurePartitions(db: Db, now: Date, daysAhead: number, daysBehind = 1): Promise<string[]> {
  const existing = new Set((await db.query<{ name: string }>(ATTACHED_SQL)).rows.map((r) => r.name));
  const created: string[] = [];
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  for (let d = -daysBehind; d <= daysAhead; d++) {
    const from = new Date(today + d * DAY_MS);
    const name = partitionName(from);
    if (!existing.has(name) && (await createPartition(db, name, from, new Date(from.getTime() + DAY_MS)))) created.push(name);
  }
  return created;
}

/**
 * Creates and attaches one day's partition; false when another replica made it first. Replicas
 * start together and each makes the days ahead: two CREATE TABLE IF NOT EXISTS of one name at once
 * collide in the catalog (a unique violation of pg_type, which stopped the second replica's
 * start), so they take turns under an advisory lock, and the second finds the day made.
 */
async function createPartition(db: Db, name: string, from: Date, to: Date): Promise<boolean> {
  const range = `'${from.toISOString()}'::timestamptz AND occurred_at < '${to.toISOString()}'::timestamptz`;
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
    if ((await tx.query(`${ATTACHED_SQL} AND c.relname = $1`, [name])).rows.length) return false;
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS ${name} (LIKE task_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
      LOCK TABLE task_events_default IN SHARE ROW EXCLUSIVE MODE;
      INSERT INTO ${name} SELECT * FROM task_events_default WHERE occurred_at >= ${range};
      DELETE FROM task_events_default WHERE occurred_at >= ${range};
      ALTER TABLE task_events ATTACH PARTITION ${name}
        FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}');`);
    return true;
  }).catch((err) => {
    // Attached meanwhile by a replica of a version without the lock (a rolling upgrade).
    if (/already a partition|would overlap/.test(String((err as Error).message))) return false;
    throw err;
  });
}
