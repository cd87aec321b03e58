// GET /api/trends' query on PostgreSQL: a day of N tasks (40 names, 6 queues, 12 workers, 2.5%
// failed, one every 86,400 / N seconds), in a database of its own, then each panel shape of the
// example dashboard and a few others, three times each (wall ms, the table in the cache); then
// the example alert rules' SQL on the z4j_alerting views (provisioning/alerting-examples), as of
// the day's end.
//
//   npm run build -w backend && node tests/bench/trends-bench.mjs [--tasks 3000000] [--pg-url URL] [--keep]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openBenchDatabase } from './bench-db.mjs';

const bench = await openBenchDatabase('trends', 3000000);
const { db, tasks: N } = bench;
const { trends, trendsQuery } = await import(`${bench.dist}/api/trends.js`);
try {
  const end = Date.UTC(2026, 11, 7, 12);
  const t0 = Date.now();
  await db.query(`
    INSERT INTO tasks (project_id, engine, task_id, name, queue, state, attempt_at, state_at, worker, started_at, finished_at,
                       runtime_ms, wait_ms, first_seen_at, last_event_at)
    SELECT 1, 'celery', 't' || i, 'app.task_' || (i % 40), 'q' || (i % 6), CASE WHEN i % 40 = 0 THEN 'failed' ELSE 'succeeded' END,
           ts, ts, 'w' || (i % 12) || '@h', ts, ts, (i % 1000)::float8, (i % 97)::float8, ts, ts
      FROM (SELECT i, to_timestamp(${end / 1000} - 86400 + i * 86400.0 / ${N}) AS ts FROM generate_series(1, ${N}) i) s`);
  await db.query('VACUUM ANALYZE tasks');
  console.log(`${N} tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const day = { from: String(end - 86_400_000), to: String(end), intervalMs: '60000', maxPoints: '1440' };
  const cases = [
    ['tasks, 24 h', {}],
    ['tasks by state, 24 h', { groupBy: 'state' }],
    ['tasks by name (10 of 40), 24 h', { groupBy: 'name' }],
    ['failed by name, 24 h', { state: 'failed', groupBy: 'name' }],
    ['one name, 24 h', { name: 'app.task_7' }],
    ['runtime p95 by name, 24 h', { metric: 'runtime', stat: 'p95', groupBy: 'name' }],
    ['wait p95 by queue, 24 h', { metric: 'wait', groupBy: 'queue' }],
    ['tasks by state, 6 h', { groupBy: 'state', from: String(end - 6 * 3_600_000) }],
    ['runtime p95 by name, 6 h', { metric: 'runtime', groupBy: 'name', from: String(end - 6 * 3_600_000) }],
    ['runtime p95 by name, 1 h', { metric: 'runtime', groupBy: 'name', from: String(end - 3_600_000) }],
  ];
  for (const [label, extra] of cases) {
    const q = trendsQuery.parse({ ...day, ...extra });
    const ms = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      await trends(db, 1, q);
      ms.push(Math.round(performance.now() - start));
    }
    console.log(`${label}: ${ms.join(' / ')} ms`);
  }

  // The bench's own role reads every project through the views, as Grafana's would.
  await db.query(`INSERT INTO alerting_readers (role_name, project_id, granted_by) VALUES (current_user, NULL, 'bench')`);
  // The service's own YAML parser (a devDependency of backend/; the root's is another major).
  const { parse } = createRequire(new URL('../../backend/package.json', import.meta.url))('yaml');
  const rules = parse(readFileSync(new URL('../../provisioning/alerting-examples/z4j-alert-rules.yaml', import.meta.url), 'utf8'));
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    const sql = rule.data.find((q) => q.datasourceUid !== '__expr__').model.rawSql.replaceAll('now()', `'${new Date(end).toISOString()}'::timestamptz`);
    const ms = [];
    let rows = 0;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      rows = (await db.query(sql)).rows.length;
      ms.push(Math.round(performance.now() - start));
    }
    console.log(`alert rule ${rule.uid} (${rows} alerts): ${ms.join(' / ')} ms`);
  }
} finally {
  await bench.close();
}
