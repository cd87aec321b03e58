#!/usr/bin/env node
// Ingest benchmark: the real service (built, on PostgreSQL) consumes Celery events that a
// separate load-generator process publishes to Redis. Reports sustained persisted events/s,
// events lost (published − persisted), p99 ingest lag and the service's peak RSS.
//
//   node tests/bench/ingest-bench.mjs --rate 30000 --seconds 60
// Needs PostgreSQL and Redis (bash scripts/services.sh start) and a built backend.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';

const { values: opt } = parseArgs({
  options: {
    rate: { type: 'string', default: '30000' },
    seconds: { type: 'string', default: '60' },
    'pg-url': { type: 'string', default: process.env.Z4J_TEST_DATABASE_URL ?? 'postgres://z4j:z4j@127.0.0.1:5432/z4j' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379/16' },
    port: { type: 'string', default: '18181' },
    /** Which source to load: celery (Redis pub/sub events) or agent (signed batches on a Redis stream). */
    source: { type: 'string', default: 'celery' },
    /** Write a V8 CPU profile of the service into this directory. */
    profile: { type: 'string' },
  },
});
const root = new URL('../../', import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freshDatabase() {
  const admin = new pg.Client({ connectionString: opt['pg-url'] });
  await admin.connect().catch((err) => {
    throw new Error(`PostgreSQL not reachable at ${opt['pg-url']}: ${err.message}. Run: bash scripts/services.sh start`);
  });
  // Earlier runs' databases would be vacuumed during this one, stealing CPU from it.
  const old = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'z4j_bench_%'`);
  for (const { datname } of old.rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  const name = `z4j_bench_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(opt['pg-url']);
  url.pathname = `/${name}`;
  return { url: url.toString(), name };
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux
/** utime + stime ticks of a /proc stat file (a process's, or one thread's under task/). */
function statTicks(path) {
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
/** CPU seconds (user + system) of one process, or of every process whose command line matches. */
function cpuSeconds(match) {
  let ticks = 0;
  for (const pid of typeof match === 'number' ? [match] : readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (typeof match !== 'number' && !match.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      ticks += statTicks(`/proc/${pid}/stat`);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / CLOCK_TICKS;
}
/** CPU seconds of a process's main thread (its JavaScript event loop, for Node). */
function mainThreadSeconds(pid) {
  try {
    return statTicks(`/proc/${pid}/task/${pid}/stat`) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

// PostgreSQL: the bench database's backends and the shared writers (other databases' backends,
// e.g. a test suite running meanwhile, are not counted).
const cpuNow = (servicePid, dbName) => ({
  service: cpuSeconds(servicePid),
  postgres: cpuSeconds(new RegExp(`^postgres: \\S+ ${dbName} `)),
  postgresBackground: cpuSeconds(/^postgres: (walwriter|checkpointer|background writer|autovacuum)/),
  redis: cpuSeconds(/^redis-server/),
});

/** The machine's CPU time split (/proc/stat): steal is time the hypervisor gave to other guests. */
function machineTicks() {
  const [, user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

async function metrics(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  const buckets = [...text.matchAll(/^z4j_ingest_lag_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)$/gm)].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  return { batches: value('z4j_ingest_batch_size_count'), batchEvents: value('z4j_ingest_batch_size_sum'), batchSeconds: value('z4j_ingest_batch_seconds_sum'), persisted: value('z4j_ingest_events_persisted_total'), dropped: value('z4j_ingest_events_dropped_total'), heldSeconds: value('z4j_source_held_seconds_total'), invalid: value('z4j_ingest_events_invalid_total'), buckets };
}

/** The upper bound of the histogram bucket holding quantile q (linear inside the bucket). */
function quantile(buckets, q) {
  const total = buckets.at(-1)?.[1] ?? 0;
  const target = total * q;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= target) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (target - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return NaN;
}

const db = await freshDatabase();
const base = `http://127.0.0.1:${opt.port}`;
const profileArgs = opt.profile ? ['--cpu-prof', `--cpu-prof-dir=${opt.profile}`] : [];
const agent = { id: 'bench-agent', secret: randomBytes(24).toString('hex') };
const sourceEnv = opt.source === 'agent'
  ? { Z4J_AGENT_REDIS_URLS: opt['redis-url'], Z4J_AGENT_KEYS: `${agent.id}@default:${agent.secret}` }
  : { Z4J_CELERY_BROKERS: opt['redis-url'] };
if (opt.source === 'agent') {
  const r = new Redis(opt['redis-url']);
  await r.del('z4j:events:default'); // a fresh stream: the consumer group reads from its start
  r.disconnect();
}
// Node flags as scripts/start.sh runs the service; Z4J_NODE_FLAGS replaces them ('' for V8's defaults).
const nodeFlags = (process.env.Z4J_NODE_FLAGS ?? '--max-semi-space-size=32').split(' ').filter(Boolean);
const service = spawn(process.execPath, [...profileArgs, ...nodeFlags, new URL('backend/dist/main.js', root).pathname], {
  env: { ...process.env, DATABASE_URL: db.url, PORT: opt.port, ...sourceEnv, Z4J_CELERY_ENABLE_EVENTS_INTERVAL: '0', Z4J_LOG_LEVEL: 'warn', Z4J_QUEUE_SAMPLE_INTERVAL: '0', Z4J_PROXY_SECRET: 'bench-proxy-secret', Z4J_SEAL_KEYS: `1:${randomBytes(32).toString('base64')}`, Z4J_AUDIT_KEYS: `1:${randomBytes(32).toString('base64')}` },
  stdio: ['ignore', process.stderr, 'inherit'], // the service's banner and warnings on stderr: stdout is the report alone
});
try {
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 100) throw new Error('service did not become ready');
    await sleep(200);
  }
  await sleep(500); // subscriptions in place

  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMb(service.pid))), 250);
  const before = await metrics(base);
  const cpuBefore = cpuNow(service.pid, db.name);
  const ticksBefore = machineTicks();
  const mainBefore = mainThreadSeconds(service.pid);
  const t0 = Date.now();
  const genArgs = opt.source === 'agent'
    ? [new URL('tests/bench/agent-load.mjs', root).pathname, '--agent', agent.id, '--secret', agent.secret]
    : [new URL('tests/bench/celery-load.mjs', root).pathname];
  const gen = spawn(process.execPath, [...genArgs, '--url', opt['redis-url'], '--rate', opt.rate, '--seconds', opt.seconds], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  gen.stdout.on('data', (d) => (out += d));
  let genCpu = 0;
  const genCpuTimer = setInterval(() => (genCpu = Math.max(genCpu, cpuSeconds(gen.pid))), 250);
  await new Promise((r) => gen.on('exit', r));
  clearInterval(genCpuTimer);
  const genStats = JSON.parse(out.trim().split('\n').at(-1));
  const atGenEnd = await metrics(base);
  const genSeconds = (Date.now() - t0) / 1000;
  const mainWhilePublishing = mainThreadSeconds(service.pid) - mainBefore;

  // Drain: wait until the persisted count stops moving.
  let last = -1;
  let after = atGenEnd;
  for (let i = 0; i < 120 && after.persisted !== last; i++) {
    last = after.persisted;
    await sleep(1000);
    after = await metrics(base);
  }
  clearInterval(rssTimer);
  const cpuAfter = cpuNow(service.pid, db.name);
  const drainSeconds = (Date.now() - t0) / 1000 - genSeconds;
  const persisted = after.persisted - before.persisted;
  const check = new pg.Client({ connectionString: db.url });
  await check.connect();
  const stored = Number((await check.query('SELECT count(*) AS n FROM task_events')).rows[0].n);
  const tasks = Number((await check.query('SELECT count(*) AS n FROM tasks')).rows[0].n);
  await check.end();

  const report = {
    source: opt.source,
    targetRate: Number(opt.rate),
    seconds: Number(opt.seconds),
    published: genStats.published,
    publishedRate: Math.round(genStats.published / genStats.seconds),
    persisted,
    storedRows: stored,
    tasks,
    lost: genStats.published - stored,
    dropped: after.dropped - before.dropped,
    // Time the Celery subscriber was held back (not reading; Redis kept the events) while the queue was full.
    heldSeconds: Math.round((after.heldSeconds - before.heldSeconds) * 10) / 10,
    invalid: after.invalid - before.invalid,
    sustainedPersistedPerSecond: Math.round((atGenEnd.persisted - before.persisted) / genSeconds),
    drainSeconds: Math.round(drainSeconds * 10) / 10,
    lagP50s: Math.round(quantile(after.buckets, 0.5) * 1000) / 1000,
    lagP99s: Math.round(quantile(after.buckets, 0.99) * 1000) / 1000,
    peakRssMb: Math.round(peakRss),
    batches: after.batches - before.batches,
    meanBatchSize: Math.round((after.batchEvents - before.batchEvents) / Math.max(1, after.batches - before.batches)),
    meanBatchMs: Math.round((1000 * (after.batchSeconds - before.batchSeconds)) / Math.max(1, after.batches - before.batches)),
    // How loaded the machine was, and how much of it the hypervisor took for other guests: a
    // run on a box with steal (or a neighbour slowing the host) is not comparable with one without.
    machine: (() => {
      const t = machineTicks();
      const d = { busy: t.busy - ticksBefore.busy, idle: t.idle - ticksBefore.idle, steal: t.steal - ticksBefore.steal };
      const all = Math.max(1, d.busy + d.idle + d.steal);
      return {
        busyPercent: Math.round((100 * d.busy) / all),
        stealPercent: Math.round((100 * d.steal) / all),
        // The CPU of the service's event loop (its main thread) while the generator publishes:
        // near 100 would mean that thread alone sets the rate.
        serviceMainThreadBusyPercentWhilePublishing: Math.round((100 * mainWhilePublishing) / genSeconds),
      };
    })(),
    // CPU µs per stored event, publishing and draining included: what each part costs on this box.
    cpuMicrosPerEvent: Object.fromEntries(
      [['generator', genCpu], ...Object.keys(cpuAfter).map((k) => [k, cpuAfter[k] - cpuBefore[k]])]
        .map(([k, s]) => [k, Math.round((s * 1e6) / Math.max(1, stored) * 10) / 10]),
    ),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  service.kill('SIGTERM');
  await new Promise((r) => service.on('exit', r));
  if (opt.source === 'agent') {
    // The stream holds every batch of the run (hundreds of MB of Redis's memory): not kept until the next run.
    const r = new Redis(opt['redis-url'], { maxRetriesPerRequest: 1 }); // a Redis gone by now must not hold the bench open
    await r.del('z4j:events:default').catch(() => undefined);
    r.disconnect();
  }
}
