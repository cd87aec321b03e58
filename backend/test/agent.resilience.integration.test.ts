// The agent never hurts its host: a real Dramatiq worker on RabbitMQ whose agent publishes to a
// Redis of its own (a throw-away redis-server on a free port, never the shared one). Redis is
// killed under the running worker: tasks keep running, the worker stays up, the agent's bounded
// buffer overflows and counts what it dropped; Redis comes back (empty) and delivery resumes, the
// worker's heartbeats bring the drop count to GET /api/workers, and it accounts for what was lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { agentKeyEntry, testAgent } from './helpers/agentBatches.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { PythonApp, uniqueQueue, type PyProcess } from './helpers/pyapp.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(240_000);

const AMQP_URL = process.env.Z4J_TEST_AMQP_URL_PIKA ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
// Where the test actors count their runs (the shared Redis: it stays up throughout).
const COUNTER_REDIS_URL = process.env.Z4J_TEST_AGENT_RESILIENCE_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
const BUFFER = 50;
const HEARTBEAT_S = 0.5;
const queue = uniqueQueue('agent_resilience');
const app = new PythonApp('dramatiq', 'dramatiq_app', { Z4J_TEST_REDIS: COUNTER_REDIS_URL, Z4J_TEST_QUEUE: queue, Z4J_TEST_BROKER: AMQP_URL });

// A producer without the agent: sends `count(<prefix>-<i>)` n times, prints the message ids.
const SEND = `
import json, sys, tasks
prefix, n = sys.argv[1], int(sys.argv[2])
print(json.dumps([tasks.count.send(f"{prefix}-{i}").message_id for i in range(n)]))
`;
// How many of those n messages ran (each counts its run in the shared Redis).
const RUNS = `
import json, sys, tasks
prefix, n = sys.argv[1], int(sys.argv[2])
print(json.dumps(sum(int(v or 0) for v in tasks._counter.mget([f"z4j-test-dq-runs:{prefix}-{i}" for i in range(n)]))))
`;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A redis-server of this test's own: no persistence, so a restart comes back empty. */
class ThrowAwayRedis {
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'z4j-resilience-redis-'));
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.proc = proc;
    await eventually(async () => {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode})`);
      await new Promise<void>((resolve, reject) => {
        const probe = spawn('redis-cli', ['-p', String(this.port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        probe.stdout.on('data', (d) => (out += d));
        probe.on('exit', () => (out.includes('PONG') ? resolve() : reject(new Error('redis is not answering yet'))));
      });
    }, 10_000, 100);
  }

  /** The agent stream and its consumer groups, for failure messages. */
  async describe(project: string): Promise<string> {
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      const stream = `z4j:events:${project}`;
      return JSON.stringify({ length: await client.xlen(stream), groups: await client.xinfo('GROUPS', stream).catch((e) => String(e)) });
    } catch (err) {
      return String(err);
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL, like a crash: nothing is saved. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface WorkerRow {
  engine: string;
  hostname: string;
  online: boolean;
  dropped: number | null;
}

describe('the agent when its Redis goes away under a running Dramatiq worker', () => {
  const agent = testAgent();
  let redis: ThrowAwayRedis;
  let svc: Service;
  let worker: PyProcess;
  const prefix = `resilience-${randomBytes(4).toString('hex')}`;

  const send = (what: string, n: number) => app.run<string[]>('-c', [SEND, `${prefix}-${what}`, String(n)]);
  const ran = (what: string, n: number) => app.run<number>('-c', [RUNS, `${prefix}-${what}`, String(n)]);
  const allRan = (what: string, n: number) => eventually(async () => {
    const runs = await ran(what, n);
    if (runs !== n) throw new Error(`${runs} of ${n} ${what} tasks ran\n${worker.output().slice(-2000)}`);
  }, 60_000, 250);
  const succeeded = (ids: string[]) => svc.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE task_id = ANY($1) AND state = 'succeeded'`, [ids]).then((r) => r.rows[0]!.n);
  const storedEvents = (ids: string[]) => svc.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_events WHERE task_id = ANY($1)', [ids]).then((r) => r.rows[0]!.n);
  const workers = async (): Promise<WorkerRow[]> => {
    const res = await fetch(`${svc.url}/api/workers?engine=dramatiq`, { headers: authHeaders('viewer') });
    expect(res.status).toBe(200);
    return ((await res.json()) as { workers: WorkerRow[] }).workers;
  };
  const alive = () => worker.process.exitCode === null && worker.process.signalCode === null;

  beforeAll(async () => {
    redis = new ThrowAwayRedis(await freePort());
    await redis.start();
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('agent_resilience'),
      Z4J_AGENT_REDIS_URLS: [redis.url], Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_CELERY_BROKERS: [],
      Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
    // The engine's broker is RabbitMQ; Z4J_BROKER_URL sends the agent's batches to the throw-away Redis.
    worker = app.start('dramatiq', ['tasks', '--processes', '1', '--threads', '2', '--queues', queue], {
      Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project,
      Z4J_BROKER_URL: redis.url, Z4J_BUFFER_SIZE: String(BUFFER),
      Z4J_HEARTBEAT_INTERVAL: String(HEARTBEAT_S), Z4J_FLUSH_INTERVAL: '0.05',
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await svc?.stop();
    await redis?.remove();
  });

  test('tasks run through the outage, the drops are counted and reported, delivery resumes', async () => {
    // Before: every task delivered, nothing dropped.
    const before = await send('before', 10);
    await allRan('before', 10);
    await eventually(async () => {
      if ((await succeeded(before)) !== before.length) throw new Error(`not all delivered yet\n${worker.output().slice(-2000)}`);
    }, 60_000, 250);
    const [online] = await eventually(async () => {
      const rows = await workers();
      if (!rows.some((w) => w.online)) throw new Error(`no worker online: ${JSON.stringify(rows)}`);
      return rows;
    }, 30_000, 250);
    expect(online!.dropped).toBe(0);

    // Redis dies. Tasks keep running on RabbitMQ; the agent's buffer (50 events) overflows.
    await redis.kill();
    const killedAt = Date.now();
    const during = await send('during', 100);
    await allRan('during', 100);
    await sleep(2000); // a few heartbeats with nowhere to go
    expect(alive()).toBe(true);

    // Redis comes back, empty. The agent reconnects (its backoff is at most 5 s).
    await redis.start();
    const after = await send('after', 10);
    await allRan('after', 10);
    await eventually(async () => {
      if ((await succeeded(after)) !== after.length) throw new Error(`delivery has not resumed: ${await redis.describe(agent.project)}\n${worker.output().slice(-2000)}`);
    }, 90_000, 250);
    // The buffered tail of the outage arrived with them; now the worker's heartbeat carries the count.
    const dropped = await eventually(async () => {
      const rows = await workers();
      const w = rows.find((r) => r.hostname === online!.hostname);
      if (!w?.online || !w.dropped) throw new Error(`no drop count yet: ${JSON.stringify(rows)}`);
      return w.dropped;
    }, 30_000, 250);
    const outageS = (Date.now() - killedAt) / 1000;

    // The count tells how much was lost: every task event of the outage that never arrived was
    // dropped; the rest of the drops are heartbeats (one per 0.5 s while nothing could be sent).
    const lostTaskEvents = during.length * 2 - (await storedEvents(during)); // started + succeeded each
    expect(lostTaskEvents).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThanOrEqual(lostTaskEvents);
    expect(dropped).toBeLessThanOrEqual(lostTaskEvents + Math.ceil(outageS / HEARTBEAT_S) + 4);
    // Batches carry the same counter (agent_status, per agent).
    const status = (await svc.db.query<{ dropped: string }>('SELECT dropped FROM agent_status WHERE agent_id = $1', [agent.id])).rows[0]!;
    expect(Number(status.dropped)).toBeGreaterThanOrEqual(lostTaskEvents);

    // Nothing crashed: the same worker process ran everything, and logged no traceback.
    expect(alive()).toBe(true);
    expect(await ran('during', 100)).toBe(100);
    expect(worker.output()).not.toMatch(/Traceback/);
    expect(await succeeded(before)).toBe(before.length);
  });
});
