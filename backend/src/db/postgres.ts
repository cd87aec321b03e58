import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import type { Db, Queryable } from './db.js';

// Timestamps stay as JS Dates (pg's default); int8 (ids, counts) as strings to keep precision.

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query(sql, params, options) {
      const res = await client.query(options?.name ? { name: options.name, text: sql, values: params } : { text: sql, values: params });
      return { rows: res.rows };
    },
    async exec(sql) {
      await client.query(sql);
    },
  };
}

/** A transaction's client: queries, and COPY for bulk loads. */
function wrapClient(client: pg.PoolClient): Queryable {
  return {
    ...wrap(client),
    async copyFrom(sql, text) {
      const stream = client.query(copyFromStdin(sql));
      stream.end(text);
      await finished(stream);
    },
  };
}

/** `statementTimeoutMs`: PostgreSQL cancels any statement running longer (error 57014). */
export function openPostgres(url: string, poolSize = 10, opts: { statementTimeoutMs?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url, max: poolSize, application_name: opts.applicationName ?? 'z4j',
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An idle client losing its connection must not take the process down.
  pool.on('error', () => undefined);
  return {
    storage: 'postgres',
    ...wrap(pool),
    async transaction(fn, prelude) {
      const client = await pool.connect();
      try {
        await client.query(prelude ? `BEGIN; ${prelude}` : 'BEGIN');
        const out = await fn(wrapClient(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
