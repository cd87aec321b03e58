// The batch writer alone, on PostgreSQL: Celery-shaped events (received / started / succeeded,
// 64 tasks in flight, as tests/bench/celery-load.mjs sends them) written by the built
// BatchWriter in batches over writer lanes, as the pipeline does, with no source, generator or
// Redis sharing the box. Reports the CPU µs per event of the bench database's PostgreSQL
// backends and of this process (the writer's Node side). On this shared machine those move
// by ±1–2 µs between runs where the full ingest bench's move by more, so a change to the
// writer or the schema is best judged here first, in turn with the old code (--dist).
//
//   npm run build -w backend && node tests/bench/writer-bench.mjs [--events 300000] [--batch 1900] [--lanes 2]
//       [--dist DIR (another build's backend/dist)] [--pg-url URL] [--rounds 1]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { adminClient, createBenchDatabase } from './bench-db.mjs';

const { values: opt } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    batch: { type: 'string', default: '1900' },
    lanes: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '1' },
    dist: { type: 'string', default: new URL('../../backend/dist', import.meta.url).pathname },
    'pg-url': { type: 'string', default: process.env.Z4J_TEST_DATABASE_URL ?? 'postgres://z4j:z4j@127.0.0.1:5432/z4j' },
  },
});
const EVENTS = Number(opt.events);
const BATCH = Number(opt.batch);
const LANES = Number(opt.lanes);
const { openPostgres } = await import(`${opt.dist}/db/postgres.js`);
const { migrate } = await import(`${opt.dist}/db/migrate.js`);
const { BatchWriter } = await import(`${opt.dist}/ingest/batchWriter.js`);
// Events go to lanes as this tree's pipeline sends them, whichever build's writer is measured.
const { laneIndex } = await import(new URL('../../backend/dist/ingest/pipeline.js', import.meta.url).href);

const admin = await adminClient(opt['pg-url']);

/** The events, each task's three in order, tasks interleaved; split into lanes by task as the pipeline does. */
function celeryEvents() {
  const names = ['app.tasks.send_email', 'media.resize_image', 'billing.charge', 'reports.build'];
  const start = Date.now() - 60_000;
  const events = [];
  const inFlight = [];
  let tasks = 0;
  while (events.length < EVENTS) {
    if (inFlight.length < 64) {
      const n = tasks++;
      inFlight.push({ id: `${n.toString(16).padStart(8, '0')}-2739-4bf9-9b13-e82a1036eb14`, step: 0, name: names[n % 4], worker: `celery@bench-${n % 8}` });
      continue;
    }
    const i = Math.floor(Math.random() * inFlight.length);
    const t = inFlight[i];
    const fields = t.step === 0 ? { name: t.name, args: '(129, 32)', kwargs: "{'priority': 'normal'}", retries: 0, rootId: t.id }
      : t.step === 2 ? { result: "{'status': 'ok', 'items': 3}", runtime: 0.0123 } : {};
    events.push({ v: 1, type: 'task', id: `${t.id}-${t.step}`, engine: 'celery', project: 'default', kind: ['received', 'started', 'succeeded'][t.step],
      taskId: t.id, occurredAt: start + events.length / 30, worker: t.worker, fields });
    if (++t.step === 3) inFlight.splice(i, 1);
  }
  const lanes = Array.from({ length: LANES }, () => []);
  for (const ev of events) lanes[laneIndex(ev.taskId, LANES)].push(ev);
  return lanes;
}

/** CPU seconds of the database's backends so far (/proc: utime + stime, in clock ticks of 10 ms). */
async function backendSeconds(name) {
  const pids = (await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name])).rows.map((r) => r.pid);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // a backend that ended meanwhile
    }
  }
  return ticks / 100;
}

async function round() {
  const name = `z4j_wbench_${Date.now()}`;
  const db = openPostgres(await createBenchDatabase(admin, opt['pg-url'], name, 'z4j_wbench_'));
  try {
    await migrate(db);
    const lanes = celeryEvents();
    await Promise.all(lanes.map(() => db.query('SELECT 1'))); // one connection per lane before the clock starts
    const pgBefore = await backendSeconds(name);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(lanes.map(async (events) => {
      const writer = new BatchWriter(db);
      for (let i = 0; i < events.length; i += BATCH) {
        for (;;) {
          try {
            await writer.write(events.slice(i, i + BATCH));
            break;
          } catch (err) {
            if (err.code !== '40001') throw err; // a transient conflict: the pipeline retries it too
          }
        }
      }
    }));
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const pgSeconds = (await backendSeconds(name)) - pgBefore;
    const stored = (await db.query('SELECT count(*)::int AS n FROM task_events')).rows[0].n;
    if (stored !== EVENTS) throw new Error(`stored ${stored} of ${EVENTS} events`);
    return { events: EVENTS, batch: BATCH, lanes: LANES, wallMs: Math.round(wallMs), eventsPerSecond: Math.round(EVENTS / (wallMs / 1000)),
      postgresMicrosPerEvent: +(pgSeconds * 1e6 / EVENTS).toFixed(1), writerMicrosPerEvent: +((cpu.user + cpu.system) / EVENTS).toFixed(1) };
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

try {
  for (let r = 0; r < Number(opt.rounds); r++) console.log(JSON.stringify({ dist: opt.dist, ...(await round()) }));
} finally {
  await admin.end();
}
