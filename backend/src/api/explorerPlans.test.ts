// How much of the table the explorer reads for the filters on-call pairs most ("what of X
// failed", "what waits in queue Y") when the answer is empty: what a name or queue with no
// failures used to cost (every row of it). Counted from PostgreSQL's own plan, not timed.
import type { Db } from '../db/db.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { listTasksQuery, listTasksSql } from './taskQueries.js';

interface PlanNode { 'Node Type': string; 'Actual Rows': number; 'Actual Loops': number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] }

/** Rows the plan's scans read: those returned and those their filters threw away. */
function rowsRead(node: PlanNode): number {
  const own = node['Node Type'].includes('Scan') ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((n, child) => n + rowsRead(child), 0);
}

describe('explorer filter pairs on postgres', () => {
  let db: Db;
  const QUIET = 20_000; // rows of the name and queue that never fail

  beforeAll(async () => {
    db = await openTestDb('postgres', 'explorer_plans');
    // 60,000 tasks: a busy name on a busy queue with a few failures and tasks waiting, and a
    // quiet name on its own queue whose every task succeeded.
    await db.query(
      `INSERT INTO tasks (project_id, engine, task_id, name, queue, state, attempt_at, state_at, worker, first_seen_at, last_event_at)
       SELECT 1, 'celery', 't' || i,
              CASE WHEN i % 3 = 0 THEN 'app.quiet' ELSE 'app.busy' END,
              CASE WHEN i % 3 = 0 THEN 'idle' ELSE 'main' END,
              CASE WHEN i % 3 = 0 OR i % 100 > 5 THEN 'succeeded' WHEN i % 100 < 3 THEN 'failed' ELSE 'enqueued' END,
              now(), now(), 'w' || (i % 4), now() - make_interval(secs => 60000 - i), now()
         FROM generate_series(1, ${QUIET * 3}) i`,
    );
    await db.query('ANALYZE tasks');
  }, 60_000);

  afterAll(() => db.close());

  it.each([
    ['failed of a name that never failed', { state: 'failed', name: 'app.quiet' }],
    ['failed or retried of that name', { state: 'failed,retried', name: 'app.quiet' }],
    ['waiting in a queue nothing waits in', { state: 'enqueued', queue: 'idle' }],
  ])('%s reads a few rows, not every row of the name or queue', async (_what, filters) => {
    const { text, params } = listTasksSql(1, listTasksQuery.parse(filters));
    const plan = (await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params)).rows[0]!['QUERY PLAN'][0].Plan;
    expect(plan['Actual Rows']).toBe(0);
    expect(rowsRead(plan)).toBeLessThan(QUIET / 20);
  });
});
