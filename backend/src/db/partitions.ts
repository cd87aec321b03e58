// Daily partitions of task_events, created ahead of time. Rows that already landed in the
// default partition for a day are moved into that day's new partition, so creating a
// partition never fails on stragglers.
import type { Db } from './db.js';

const DAY_MS = 86_400_000;

export function partitionName(day: Date): string {
  return `task_events_${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

export async function ensurePartitions(db: Db, now: Date, daysAhead: number, daysBehind = 1): Promise<string[]> {
  const existing = new Set(
    (await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'task_events'::regclass`,
    )).rows.map((r) => r.name),
  );
  const created: string[] = [];
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  for (let d = -daysBehind; d <= daysAhead; d++) {
    const from = new Date(today + d * DAY_MS);
    const to = new Date(today + (d + 1) * DAY_MS);
    const name = partitionName(from);
    if (existing.has(name)) continue;
    const range = `'${from.toISOString()}'::timestamptz AND occurred_at < '${to.toISOString()}'::timestamptz`;
    await db.transaction(async (tx) => {
      await tx.exec(`
        CREATE TABLE IF NOT EXISTS ${name} (LIKE task_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
        LOCK TABLE task_events_default IN SHARE ROW EXCLUSIVE MODE;
        INSERT INTO ${name} SELECT * FROM task_events_default WHERE occurred_at >= ${range};
        DELETE FROM task_events_default WHERE occurred_at >= ${range};
        ALTER TABLE task_events ATTACH PARTITION ${name}
          FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}');`);
    }).catch((err) => {
      // Another replica attached it first.
      if (!/already a partition|would overlap/.test(String((err as Error).message))) throw err;
    });
    created.push(name);
  }
  return created;
}
