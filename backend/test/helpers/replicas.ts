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
    await eventually(async () => expect((await c.query(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`,
    )).rows[0].n).toBe(waiting), 10_000, 20);
    await c.query('COMMIT');
    return await result;
  } finally {
    await c.end();
  }
}
