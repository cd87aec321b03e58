// Two replicas of the service on one PostgreSQL database, and the overlap of their writes made
// certain: what one holds uncommitted while the other's request runs into it.
import pg from 'pg';
import type { Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createTestDatabase } from './storage.js';
import { eventually } from './wait.js';

export interface Replicas {
  url: string;
  a: Db;
  b: Db;
}

/** Two pools on a fresh, migrated database (`name`), made before the suite's tests and closed after. */
export function twoReplicas(name: string): Replicas {
  const r = {} as Replicas;
  beforeAll(async () => {
    r.url = await createTestDatabase(name);
    r.a = openPostgres(r.url);
    await migrate(r.a);
    r.b = openPostgres(r.url);
  });
  afterAll(async () => {
    await r.a?.close();
    await r.b?.close();
  });
  return r;
}

/** What each other session of the database is doing, for a failure to say why it waited. */
async function sessions(c: pg.Client): Promise<string> {
  const rows = (await c.query(`SELECT a.pid, a.state, a.wait_event_type, a.wait_event, l.locktype, l.mode, l.relation::regclass::text AS relation,
    pg_blocking_pids(a.pid) AS blocked_by, left(a.query, 120) AS query FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() ORDER BY a.pid`)).rows;
  return rows.map((r) => JSON.stringify(r)).join('\n');
}

/**
 * Runs `hold` in a transaction of a connection of its own, then `contend`, and commits once
 * `waiting` sessions of the database wait on a lock (those `contend` started): whatever they do
 * next sees what `hold` wrote committed, as when another replica's write lands first.
 */
export async function whileHeld<T>(url: string, hold: (c: pg.Client) => Promise<unknown>, contend: () => Promise<T>, waiting = 1): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    await hold(c);
    const result = contend();
    result.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    await eventually(async () => {
      // pg_stat_activity is read once per transaction and kept (stats_fetch_consistency): without
      // clearing it, a session that connected after the first read (a replica's pool, slow under
      // load) is missing from the join, and its wait is never counted.
      await c.query('SELECT pg_stat_clear_snapshot()');
      const n = (await c.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`)).rows[0].n;
      if (n !== waiting) throw new Error(`${n} session(s) wait on a lock, not ${waiting}; the database's sessions:\n${await sessions(c)}`);
    }, 10_000, 20);
    await c.query('COMMIT');
    return await result;
  } finally {
    await c.end();
  }
}
