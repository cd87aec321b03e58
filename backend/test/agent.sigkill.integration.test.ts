// Exactly once across a crash: 10,000 tasks (30,000 events) go onto an agent stream while the
// service consumes it; the service is killed with SIGKILL part-way and started again. Every
// task and every event is stored exactly once (entries are acknowledged only after commit;
// redelivered ones are recognised by their batch nonce and by event ids).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { agentKeyEntry, batchOf, lifecycle, testAgent, xaddBatch } from './helpers/agentBatches.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(240_000);

const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
// A Redis DB of its own: a service consumes every agent stream in its DB (db 8 is agent.ingest's).
const REDIS_URL = process.env.Z4J_TEST_AGENT_SIGKILL_REDIS_URL ?? 'redis://127.0.0.1:6379/18';
const TASKS = 10_000;

test('SIGKILL in the middle of a 10,000-task run loses and duplicates nothing', async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the service first (npm run build -w backend)`);
  const agent = testAgent(`kill-${randomUUID().slice(0, 8)}`);
  const databaseUrl = await createTestDatabase('sigkill');
  const db = new pg.Client({ connectionString: databaseUrl });
  const redis = new Redis(REDIS_URL);
  const env = {
    ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', Z4J_LOG_LEVEL: 'error',
    Z4J_AGENT_REDIS_URLS: REDIS_URL, Z4J_AGENT_KEYS: agentKeyEntry(agent), Z4J_AGENT_CLAIM_IDLE_MS: '2000',
    Z4J_CELERY_BROKERS: '', Z4J_PROXY_SECRET: 'sigkill-test-proxy-secret', Z4J_INGEST_FLUSH_MS: '20',
  };
  const start = (): ChildProcess => spawn(process.execPath, [MAIN], { env, stdio: 'ignore' });
  const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);
  let service = start();
  try {
    await db.connect();
    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM projects WHERE slug = 'default'`)).toBe(1), 60_000, 200);
    await db.query(`INSERT INTO projects (slug, name) VALUES ($1, $1)`, [agent.project]);

    const ids = Array.from({ length: TASKS }, () => randomUUID());
    const at = Date.now();
    let batches = 0;
    for (let i = 0; i < TASKS; i += 100) {
      const events = ids.slice(i, i + 100).flatMap((id, j) => lifecycle(agent, 'rq', id, 'succeeded', { name: 'tasks.add', args: [j], kwargs: {} }, at + i + j));
      await xaddBatch(redis, agent, batchOf(agent, events));
      batches++;
    }
    // Kill it while it is part-way through the backlog.
    await eventually(async () => expect(await count('SELECT count(*) AS n FROM task_events')).toBeGreaterThan(3000), 120_000, 50);
    service.kill('SIGKILL');
    await new Promise((r) => service.once('exit', r));
    const atKill = await count('SELECT count(*) AS n FROM task_events');
    expect(atKill).toBeLessThan(3 * TASKS);

    service = start();
    await eventually(async () => expect(await count('SELECT count(*) AS n FROM task_events')).toBe(3 * TASKS), 180_000, 500);
    expect(await count('SELECT count(*) AS n FROM tasks')).toBe(TASKS);
    expect(await count(`SELECT count(*) AS n FROM tasks WHERE state = 'succeeded'`)).toBe(TASKS);
    expect(await count('SELECT count(*) AS n FROM tasks WHERE sealed_payload IS NOT NULL')).toBe(TASKS);
    await eventually(async () => expect(await count('SELECT count(*) AS n FROM agent_batches')).toBe(batches), 30_000, 200);
    await eventually(async () => expect(((await redis.xpending(`z4j:events:${agent.project}`, 'z4j')) as [number])[0]).toBe(0), 30_000, 200);
  } finally {
    service.kill('SIGKILL');
    await db.end().catch(() => undefined);
    redis.disconnect();
  }
});
