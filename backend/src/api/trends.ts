// Trends for Grafana panels: tasks per time bucket (how many, how long they ran, how long they
// waited), optionally one series per state, engine, name, queue or worker. Buckets are by when
// a task was first seen, the time every explorer index starts with: a trend costs a range scan
// of an index the writer already keeps, never one more index on the ingest path.
import { z } from 'zod';
import type { Queryable } from '../db/db.js';
import { listTasksQuery, taskFilterSql, timeParam } from './taskQueries.js';

export const TREND_METRICS = ['count', 'runtime', 'wait'] as const;
export const TREND_STATS = ['avg', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
export const TREND_GROUPS = ['state', 'engine', 'name', 'queue', 'worker'] as const;
/** The most buckets a series has: Grafana asks for about one per pixel, and a panel is rarely wider. */
export const MAX_POINTS = 2000;

export const trendsQuery = listTasksQuery
  .omit({ limit: true, cursor: true, from: true, to: true })
  .extend({
    from: timeParam,
    to: timeParam,
    metric: z.enum(TREND_METRICS).default('count'),
    stat: z.enum(TREND_STATS).optional(),
    groupBy: z.enum(TREND_GROUPS).optional(),
    /** The bucket Grafana would like (its intervalMs); widened when the range holds more than maxPoints of them. */
    intervalMs: z.coerce.number().int().min(1000).max(31 * 86_400_000).default(60_000),
    maxPoints: z.coerce.number().int().min(1).max(MAX_POINTS).default(1000),
    /** The most series: the groups with the most tasks in the range. */
    limit: z.coerce.number().int().min(1).max(50).default(10),
  })
  .superRefine((q, ctx) => {
    if (q.to.getTime() <= q.from.getTime()) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    if (q.metric === 'count' && q.stat !== undefined) ctx.addIssue({ code: 'custom', path: ['stat'], message: 'only for metric runtime or wait' });
  });
export type TrendsQuery = z.infer<typeof trendsQuery>;

export interface TrendSeries {
  /** What the series holds, e.g. {state: "failed"}; empty without groupBy. A task without one (no queue known) is "". */
  labels: Record<string, string>;
  /** [bucket start in epoch ms, value]; null where no task of the bucket had the measure. */
  points: [number, number | null][];
}

export interface Trends {
  intervalMs: number;
  metric: (typeof TREND_METRICS)[number];
  stat: (typeof TREND_STATS)[number] | null;
  series: TrendSeries[];
  /** More groups had tasks in the range than `limit` series show. */
  truncated: boolean;
}

const COLUMN = { runtime: 't.runtime_ms', wait: 't.wait_ms' } as const;

function aggregate(metric: TrendsQuery['metric'], stat: TrendsQuery['stat'] | null): string {
  if (metric === 'count' || !stat) return 'count(*)::float8';
  const column = COLUMN[metric];
  if (stat === 'avg') return `avg(${column})::float8`;
  if (stat === 'max') return `max(${column})::float8`;
  const fraction = Number(stat.slice(1)) / 100;
  // The bucket's values gathered by a hash aggregate, then sorted bucket by bucket: the same
  // percentile as percentile_cont over the rows, whose ordered-set aggregate made PostgreSQL sort
  // every row of the range first, to disk past work_mem (BENCHMARKS.md, "Trends").
  return `(SELECT percentile_cont(${fraction}) WITHIN GROUP (ORDER BY v) FROM unnest(array_agg(${column})) v)::float8`;
}

/** How many epoch-aligned buckets of `bucketS` the range touches. */
const bucketCount = (q: Pick<TrendsQuery, 'from' | 'to'>, bucketS: number) =>
  Math.ceil((q.to.getTime() - Math.floor(q.from.getTime() / (bucketS * 1000)) * bucketS * 1000) / (bucketS * 1000));

/**
 * The bucket: what Grafana asked for, in whole seconds, widened until the range touches at most
 * maxPoints buckets. Aligned on the epoch, a range that starts inside a bucket touches one more
 * than it spans: then its span is fitted into maxPoints − 1 (into one bucket for maxPoints 1,
 * doubling the bucket until the range is inside one).
 */
export function bucketSeconds(q: Pick<TrendsQuery, 'from' | 'to' | 'intervalMs' | 'maxPoints'>): number {
  const rangeS = (q.to.getTime() - q.from.getTime()) / 1000;
  let bucketS = Math.max(Math.ceil(q.intervalMs / 1000), Math.ceil(rangeS / q.maxPoints), 1);
  if (bucketCount(q, bucketS) > q.maxPoints) bucketS = Math.max(bucketS + 1, Math.ceil(rangeS / Math.max(1, q.maxPoints - 1)));
  while (bucketCount(q, bucketS) > q.maxPoints) bucketS *= 2;
  return bucketS;
}

export async function trends(db: Queryable, projectId: number, q: TrendsQuery): Promise<Trends> {
  const stat = q.metric === 'count' ? null : (q.stat ?? 'p95');
  const bucketS = bucketSeconds(q);
  const { where, params } = taskFilterSql(projectId, q);
  if (q.metric !== 'count') where.push(`${COLUMN[q.metric]} IS NOT NULL`);
  const group = q.groupBy ? `coalesce(t.${q.groupBy}, '')` : `''`;

  // One scan of the range: every (group, bucket) aggregated, then the groups ranked by their
  // tasks in the whole range (the most first, then by name), and the buckets of the first
  // `limit` kept; one group more tells that some were left out. (A first scan for the ranking
  // alone cost up to 17 times as much with a filter, BENCHMARKS.md "Trends".) Buckets are
  // aligned on the epoch, not on `from`: a panel that refreshes keeps its buckets (the first
  // one may start before `from`, and counts only what is in the range).
  params.push(bucketS, q.groupBy ? q.limit + 1 : 1);
  const rows = await db.query<{ g: string; at: Date; value: number | null; rank: string | number }>(
    // MATERIALIZED: inlined, the window's PARTITION BY made the planner sort every task row of
    // the range (to disk, past work_mem) instead of hashing them into buckets.
    `WITH buckets AS MATERIALIZED (
       SELECT ${group} AS g, date_bin(make_interval(secs => $${params.length - 1}), t.first_seen_at, 'epoch'::timestamptz) AS at,
              ${aggregate(q.metric, stat)} AS value, count(*) AS n
         FROM tasks t WHERE ${where.join(' AND ')}
        GROUP BY 1, 2)
     SELECT g, at, value, rank FROM (
       SELECT g, at, value, dense_rank() OVER (ORDER BY total DESC, g) AS rank FROM (
         SELECT g, at, value, sum(n) OVER (PARTITION BY g) AS total FROM buckets) totals) ranked
      WHERE rank <= $${params.length}`,
    params,
  );
  const ranked: string[] = [];
  for (const row of rows.rows) ranked[Number(row.rank) - 1] = row.g;
  const truncated = ranked.length > q.limit;
  const groups = q.groupBy ? ranked.slice(0, q.limit) : [''];
  if (groups.length === 0) return { intervalMs: bucketS * 1000, metric: q.metric, stat, series: [], truncated: false };

  // Every bucket of the range in every series: a count is 0 where no task was seen (a panel
  // draws a line down to it, not across), a duration null (a gap: nothing ran to measure).
  const bucketMs = bucketS * 1000;
  const start = Math.floor(q.from.getTime() / bucketMs) * bucketMs;
  const buckets = bucketCount(q, bucketS); // at most maxPoints (bucketSeconds)
  const empty = q.metric === 'count' ? 0 : null;
  const byGroup = new Map(groups.map((g) => [g, Array.from({ length: buckets }, (_, i): [number, number | null] => [start + i * bucketMs, empty])]));
  for (const row of rows.rows) {
    const i = Math.round((new Date(row.at).getTime() - start) / bucketMs);
    const points = byGroup.get(row.g);
    if (points && i >= 0 && i < buckets) points[i]![1] = row.value;
  }
  const series = groups.map((g) => ({ labels: q.groupBy ? { [q.groupBy]: g } : {}, points: byGroup.get(g)! }));
  return { intervalMs: bucketMs, metric: q.metric, stat, series, truncated };
}
