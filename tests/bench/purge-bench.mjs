// A purge's revocations on PostgreSQL: N tasks waiting, then what a purge that names them all
// costs after the broker's part. "written": the task ids kept in command_followups before the
// command answers (what the purge's reply waits for); "recorded": their revoked events through
// the ingest pipeline, with the service's default settings, into the tasks (wall s, events/s).
//
//   npm run build -w backend && node tests/bench/purge-bench.mjs [--tasks 1000000] [--pg-url URL] [--keep]
import { pino } from 'pino';
import { openBenchDatabase } from './bench-db.mjs';

const bench = await openBenchDatabase('purge', 1000000);
const { db, tasks: N } = bench;
const { loadConfig } = await import(`${bench.dist}/config.js`);
const { createMetrics } = await import(`${bench.dist}/metrics.js`);
const { IngestPipeline } = await import(`${bench.dist}/ingest/pipeline.js`);
const { ActionFollowups } = await import(`${bench.dist}/actions/followups.js`);
const { createCommand } = await import(`${bench.dist}/actions/commands.js`);
const log = pino({ level: 'warn' });
try {
  const t0 = Date.now();
  await db.query(`
    INSERT INTO tasks (project_id, engine, task_id, name, queue, state, attempt_at, state_at, sent_at, first_seen_at, last_event_at)
    SELECT 1, 'rq', 't' || i, 'app.report', 'reports', 'enqueued', ts, ts, ts, ts, ts
      FROM (SELECT i, now() - interval '1 hour' + i * interval '1 ms' AS ts FROM generate_series(1, ${N}) i) s`);
  await db.query('VACUUM ANALYZE tasks');
  console.log(`${N} tasks waiting, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const config = loadConfig({});
  const pipeline = new IngestPipeline(db, {
    capacity: config.Z4J_INGEST_QUEUE_CAPACITY, batchSize: config.Z4J_INGEST_BATCH_SIZE, writers: config.Z4J_INGEST_WRITERS,
    flushMs: config.Z4J_INGEST_FLUSH_MS, maxFieldChars: config.Z4J_MAX_FIELD_CHARS, maxClockAheadMs: config.Z4J_CLOCK_SKEW_TOLERANCE * 1000,
  }, createMetrics(), log);
  pipeline.start();
  const followups = new ActionFollowups(db, (cs, done, signal) => pipeline.offerUnhurried('z4j-actions', cs, done, signal), log);
  const { command } = await createCommand(db, { projectId: 1, idempotencyKey: `bench-${process.pid}`, kind: 'queue.purge', engine: 'rq', target: 'reports', args: {}, requestedBy: 'bench' });

  const tasks = Array.from({ length: N }, (_, i) => ({ taskId: `t${i + 1}` }));
  const written = performance.now();
  await followups.add({ commandId: command.id, kind: 'revoked', occurredAt: Date.now(), fields: { queue: 'reports', reason: 'purged from z4j by bench' }, tasks });
  const writtenS = (performance.now() - written) / 1000;
  console.log(`written: ${N} task ids in ${writtenS.toFixed(2)} s`);
  await followups.idle();
  await pipeline.drained();
  const recordedS = (performance.now() - written) / 1000 - writtenS;
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM tasks WHERE state = 'revoked'`);
  console.log(`recorded: ${rows[0].n} tasks revoked in ${recordedS.toFixed(1)} s (${Math.round(N / recordedS)} events/s)`);
  await followups.stop();
  await pipeline.stop();
} finally {
  await bench.close();
}
