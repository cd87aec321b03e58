// Numbered plain-SQL migrations, each in its own transaction, serialized by an advisory
// lock so replicas starting together apply each exactly once.
import { readdirSync, readFileSync } from 'node:fs';
import { MIN_SERVER_VERSION_NUM, type Db } from './db.js';

const MIGRATION_LOCK = 0x7a346a01; // "z4j" + 1: our advisory lock id

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = new URL('./migrations/', import.meta.url)): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({ version: Number(file.slice(0, 4)), name: file.slice(5, -4), sql: readFileSync(new URL(file, dir), 'utf8') }));
  // Applied migrations are known by number only: of two with one number, the second would never run.
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two migrations are numbered ${migrations[i]!.version}: ${migrations[i - 1]!.name} and ${migrations[i]!.name}`);
    }
  }
  return migrations;
}

export class UnsupportedDatabaseError extends Error {}

export async function migrate(db: Db, migrations = loadMigrations()): Promise<number[]> {
  const [{ v }] = (await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`)).rows as [{ v: number }];
  if (v < MIN_SERVER_VERSION_NUM) {
    throw new UnsupportedDatabaseError(`PostgreSQL ${Math.floor(v / 10000)} is not supported: z4j needs PostgreSQL 14 or newer`);
  }
  // Under the migration lock: two replicas racing on CREATE TABLE IF NOT EXISTS collide in the
  // catalog (a unique violation, or "type already exists"), whichever of the two checks loses.
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const applied: number[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.rows.length) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
