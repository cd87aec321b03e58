// Per-test storage: a fresh PostgreSQL database (created on the shared test server) or an
// in-memory PGlite, migrated. Each test file gets its own, so files can run in parallel and
// its database is left for inspection until the next full run (`npm test`) drops it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db, Queryable } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';

export type StorageKind = 'postgres' | 'pglite';
export const STORAGES: StorageKind[] = ['postgres', 'pglite'];

export const TEST_PG_URL = process.env.Z4J_TEST_DATABASE_URL ?? 'postgres://z4j:z4j@127.0.0.1:5432/z4j';

/** Creates an empty database on the test server and returns its URL. */
export async function createTestDatabase(label: string): Promise<string> {
  const name = `z4j_test_${label.replace(/\W/g, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_PG_URL} (${(err as Error).message}). ` +
        'Start the test services with `bash scripts/services.sh start` (or set Z4J_TEST_DATABASE_URL).',
    );
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function openTestDb(kind: StorageKind, label: string): Promise<Db> {
  const db = kind === 'postgres' ? openPostgres(await createTestDatabase(label)) : await openPglite('memory://');
  await migrate(db);
  return db;
}

/** The tables with a row whose text holds `text`: where a planted secret was stored (none, when all is well). */
export async function tablesHolding(db: Queryable, text: string): Promise<string[]> {
  const tables = (await db.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)).rows.map((r) => r.t);
  if (!tables.includes('tasks')) throw new Error(`not a z4j database: its tables are ${tables.join(', ')}`);
  const holding: string[] = [];
  for (const t of tables) if ((await db.query(`SELECT 1 FROM "${t}" x WHERE x::text LIKE $1 LIMIT 1`, [`%${text}%`])).rows.length) holding.push(t);
  return holding;
}
