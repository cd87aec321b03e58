import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable } from './db.js';

interface PGliteLike {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  exec(sql: string): Promise<unknown>;
}

function wrap(conn: PGliteLike): Queryable {
  return {
    query: (sql, params) => conn.query(sql, params),
    async exec(sql) {
      await conn.exec(sql);
    },
  };
}

/** Embedded PostgreSQL (WASM) in `dataDir`; `memory://` keeps it in memory (tests). */
export async function openPglite(dataDir: string): Promise<Db> {
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  return {
    storage: 'pglite',
    ...wrap(db),
    transaction: (fn, prelude) =>
      db.transaction(async (tx) => {
        if (prelude) await tx.exec(prelude);
        return fn(wrap(tx));
      }),
    close: () => db.close(),
  };
}
