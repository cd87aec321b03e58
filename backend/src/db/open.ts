import type { Db } from './db.js';
import { openPostgres } from './postgres.js';

/**
 * PostgreSQL when a URL is given, embedded PGlite otherwise. PGlite is loaded only when used:
 * its module alone is ≈ 5 MB of a PostgreSQL-backed service's memory.
 */
export async function openDb(opts: { databaseUrl?: string; dataDir: string }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  const { openPglite } = await import('./pglite.js');
  return openPglite(opts.dataDir);
}
