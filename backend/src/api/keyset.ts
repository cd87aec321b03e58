// Keyset pagination, newest first by a time and an id: the `limit` and `cursor` parameters every
// paged list takes, and the opaque cursor it hands back (the last row's exact sort key), so a
// page deep in a long list costs what the first one does and no row is skipped or repeated.
import { z } from 'zod';
import type { Queryable } from '../db/db.js';
import { ApiError } from './errors.js';

/** The page parameters of every paged list: `limit` 1–500 (default 50) and the previous page's `nextCursor`. */
export const pageParams = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
};
/** The query of a list that takes nothing but the project and a page (strict: a misspelt parameter is refused). */
export const pageQuery = z.strictObject({ project: z.string().optional(), ...pageParams });

export interface PageParams {
  limit: number;
  cursor?: string | undefined;
}

/** How a list is ordered: `at` DESC, then `id` DESC (unique), both columns of the FROM clause. */
export interface KeysetOrder {
  at: string;
  id: string;
  /** bigint ids (tasks) or the text ids z4j mints (`inv_…`, `tok_…`, `agt_…`). */
  idType: 'bigint' | 'text';
}

/** The time as the cursor holds it: microseconds in UTC text (a JavaScript Date would drop them). */
export const cursorTimeSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const MAX_BIGINT = 2n ** 63n - 1n;

/** The cursor's time as cursorTimeSql writes it, and a real one (not 2024-02-30 or 25:00). */
function isCursorTime(s: string): boolean {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,6})?Z$/.exec(s);
  if (!m) return false;
  const time = new Date(`${m[1]}Z`); // parsed once; toISOString refuses an invalid one
  return !Number.isNaN(time.getTime()) && time.toISOString().startsWith(m[1]!);
}

const isId: Record<KeysetOrder['idType'], (id: string) => boolean> = {
  bigint: (id) => /^\d{1,19}$/.test(id) && BigInt(id) <= MAX_BIGINT,
  text: (id) => /^[A-Za-z0-9_-]{1,128}$/.test(id),
};

export const encodeCursor = (at: string, id: string): string => Buffer.from(JSON.stringify([at, id])).toString('base64url');

/** The [time, id] a cursor holds; 400 BAD_CURSOR for anything this API did not hand out. */
export function decodeCursor(cursor: string, idType: KeysetOrder['idType']): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && isCursorTime(v[0]) && ['string', 'number'].includes(typeof v[1]) && isId[idType](String(v[1]))) {
      return [v[0], String(v[1])];
    }
  } catch {
    /* fall through */
  }
  throw new ApiError(400, 'BAD_CURSOR', 'cursor is not one this API returned');
}

/** The condition "after the cursor's row" in `order`, its two values appended to `params`. */
export function afterCursorSql(order: KeysetOrder, cursor: string, params: unknown[]): string {
  const [at, id] = decodeCursor(cursor, order.idType);
  params.push(at, id);
  return `(${order.at}, ${order.id}) < ($${params.length - 1}::timestamptz, $${params.length}::${order.idType})`;
}

/**
 * The page of rows read with `LIMIT limit + 1` (each with its "cursorAt" and "cursorId", which
 * are taken off) and the cursor of the next page: null when there is none.
 */
export function pageOf<R extends { cursorAt: string; cursorId: string }>(rows: R[], limit: number): { rows: Omit<R, 'cursorAt' | 'cursorId'>[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    rows: page.map(({ cursorAt: _a, cursorId: _i, ...row }) => row),
    nextCursor: rows.length > limit && last ? encodeCursor(last.cursorAt, last.cursorId) : null,
  };
}

/** The SELECT list items pageOf needs for `order`. */
export const cursorColumns = (order: KeysetOrder) => `${cursorTimeSql(order.at)} AS "cursorAt", ${order.id}::text AS "cursorId"`;

/**
 * One page of `SELECT select FROM from WHERE where`, newest first in `order`. `params` are the
 * values `where` refers to ($1…).
 */
export async function listPage<T>(
  q: Queryable,
  sql: { select: string; from: string; where: string; params: unknown[]; order: KeysetOrder },
  page: PageParams,
): Promise<{ rows: T[]; nextCursor: string | null }> {
  const { at, id } = sql.order;
  const params = [...sql.params];
  const where = [sql.where];
  if (page.cursor) where.push(afterCursorSql(sql.order, page.cursor, params));
  params.push(page.limit + 1);
  const rows = (await q.query<T & { cursorAt: string; cursorId: string }>(
    `SELECT ${sql.select}, ${cursorColumns(sql.order)} FROM ${sql.from}
      WHERE ${where.join(' AND ')}
      ORDER BY ${at} DESC, ${id} DESC
      LIMIT $${params.length}`,
    params,
  )).rows;
  return pageOf(rows, page.limit) as { rows: T[]; nextCursor: string | null };
}
