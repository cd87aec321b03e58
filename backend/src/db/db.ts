// The one storage seam: PostgreSQL (pg) and embedded PGlite behind the same tiny interface,
// so every query, migration and test runs unchanged on both.

export interface QueryOptions {
  /** Name of a prepared statement (hot path on PostgreSQL; ignored by PGlite). */
  name?: string;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<{ rows: R[] }>;
  /** Runs a script of several statements (no parameters). */
  exec(sql: string): Promise<void>;
  /**
   * Loads rows with `COPY … FROM STDIN` (text format: tab-separated, escaped with copyField).
   * PostgreSQL transactions only; callers fall back to an INSERT where it is absent.
   */
  copyFrom?(sql: string, text: string): Promise<void>;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value for COPY's text format: the four characters it gives meaning escaped, null as \N. */
export function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : value;
}

/**
 * A JSON text for COPY's text format. JSON writes tabs and line breaks inside strings as
 * escapes, so only its backslashes need doubling: a cheaper test than copyField's.
 */
export function copyJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

export interface Db extends Queryable {
  readonly storage: 'postgres' | 'pglite';
  /**
   * Runs `fn` in a transaction. `prelude`, a script of statements without parameters, runs
   * first: on PostgreSQL in the same round trip as BEGIN (a hot transaction's every round trip
   * waits for the event loop, BENCHMARKS.md).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, prelude?: string): Promise<T>;
  close(): Promise<void>;
}

/** The lowest PostgreSQL we run on (declarative partitioning with ON CONFLICT, generated columns). */
export const MIN_SERVER_VERSION_NUM = 140000;

/**
 * SQLSTATEs that say "try again", not "this data is bad": connection, resources, operator
 * intervention, system errors; serialization failures and deadlocks; a read-only transaction
 * (a failover reached a standby) and a lock not available. Taken for bad data, a batch's events
 * would be set aside as rejects and acknowledged: lost to a database that was only away.
 */
export function isTransientDbError(err: unknown): boolean {
  const code = sqlState(err);
  if (code === null) return true; // network errors, no SQLSTATE
  return /^(08|53|57|58)/.test(code) || ['40001', '40P01', '25006', '55P03'].includes(code);
}

/**
 * The error's SQLSTATE, or null for an error PostgreSQL did not send. Node's own codes can have
 * five capitals too (EPIPE, EBADF): no SQLSTATE class starts with E.
 */
export function sqlState(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : null;
}

/** A PostgreSQL data exception (class 22: a NUL in a text, a number out of range): the same data fails again. */
/** A timestamptz column as the API shows times: ISO 8601 in UTC, milliseconds. */
export const isoTimeSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const isDataException = (err: unknown): boolean => sqlState(err)?.startsWith('22') ?? false;
