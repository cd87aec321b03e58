// Agent delivery into the service, with a TypeScript stand-in for the agent: signed batches
// on a Redis stream and over HTTP land in PostgreSQL exactly once, retry payloads are sealed
// and never stored in clear, bad signatures and replays are refused and counted, and entries a
// crashed consumer left pending are claimed.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { payloadAad } from '../src/actions/payloads.js';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { signBatch } from '../src/ingest/agentBatch.js';
import { agentKeyEntry, batchOf, lifecycle, testAgent, xaddBatch } from './helpers/agentBatches.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(120_000);

const REDIS_URL = process.env.Z4J_TEST_AGENT_REDIS_URL ?? 'redis://127.0.0.1:6379/8';
const AMQP_URL = process.env.Z4J_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
const AGENT_QUEUE = `z4j.events.test.${randomUUID().slice(0, 8)}`;

describe('agent delivery', () => {
  const project = 'default';
  const agent = testAgent(project);
  const ghost = testAgent('no-such-project'); // a static key for a project nobody made
  const redis = new Redis(REDIS_URL);
  let svc: Service;
  let databaseUrl: string;
  const count = async (sql: string, params: unknown[] = []) => (await svc.db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const batches = async () => {
    const text = await (await fetch(`${svc.url}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/^z4j_agent_batches_total\{transport="(\w+)",outcome="(\w+)"\} (\d+)/gm)].map((m) => [`${m[1]}:${m[2]}`, Number(m[3])]));
  };

  beforeAll(async () => {
    await redis.del(`z4j:events:${project}`);
    // An entry delivered to a consumer that then died, before the service ever started.
    const abandonedTask = randomUUID();
    await xaddBatch(redis, agent, batchOf(agent, lifecycle(agent, 'rq', abandonedTask, 'succeeded', { name: 'tasks.add', args: [1, 2], kwargs: {}, queue: 'q' })));
    await redis.xgroup('CREATE', `z4j:events:${project}`, 'z4j', '0', 'MKSTREAM');
    await redis.xreadgroup('GROUP', 'z4j', 'crashed-consumer', 'COUNT', 10, 'STREAMS', `z4j:events:${project}`, '>');
    await redis.set('z4j-test:abandoned', abandonedTask);
    svc = await startService(loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: (databaseUrl = await createTestDatabase('agent_ingest')),
      Z4J_AGENT_REDIS_URLS: [REDIS_URL],
      Z4J_AGENT_KEYS: [agentKeyEntry(agent), agentKeyEntry(ghost)],
      Z4J_AGENT_CLAIM_IDLE_MS: 1000,
      Z4J_AGENT_AMQP_URLS: [AMQP_URL],
      Z4J_AGENT_AMQP_QUEUE: AGENT_QUEUE,
      Z4J_CELERY_BROKERS: [],
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await svc?.stop();
    redis.disconnect();
  });

  test('an entry a crashed consumer left pending is claimed and stored', async () => {
    const abandoned = (await redis.get('z4j-test:abandoned'))!;
    await eventually(async () => expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND state = 'succeeded'`, [abandoned])).toBe(1), 30_000, 200);
  });

  test('lifecycles from the stream are stored once, payloads sealed and never in clear', async () => {
    const ids = Array.from({ length: 50 }, () => randomUUID());
    const payload = (i: number) => ({ name: 'tasks.charge', args: [i], kwargs: { password: 'hunter2-secret' }, queue: 'billing' });
    const events = ids.flatMap((id, i) => lifecycle(agent, 'rq', id, i % 2 ? 'failed' : 'succeeded', payload(i)));
    for (let i = 0; i < events.length; i += 30) await xaddBatch(redis, agent, batchOf(agent, events.slice(i, i + 30)));
    await eventually(async () => expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE engine = 'rq' AND task_id = ANY($1)`, [ids])).toBe(50), 60_000, 200);
    expect(await count(`SELECT count(*)::int AS n FROM task_events WHERE task_id = ANY($1)`, [ids])).toBe(150);
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = ANY($1) AND state = 'failed'`, [ids])).toBe(25);
    // The exact payload is kept sealed, for retries; nothing readable says the secret.
    const row = (await svc.db.query<{ project_id: number; sealed: Buffer }>(`SELECT project_id, sealed_payload AS sealed FROM tasks WHERE task_id = $1`, [ids[3]])).rows[0]!;
    expect(JSON.parse(svc.sealer.open(Buffer.from(row.sealed), payloadAad(row.project_id, 'rq', ids[3]!)).toString())).toEqual(payload(3));
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE row_to_json(tasks)::text LIKE '%hunter2%'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM task_events WHERE row_to_json(task_events)::text LIKE '%hunter2%'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE encode(sealed_payload, 'escape') LIKE '%hunter2%'`)).toBe(0);
    const pending = (await redis.xpending(`z4j:events:${project}`, 'z4j')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0); // everything acknowledged after commit
    // ... and deleted: the payloads in the batches are not left in clear on the broker.
    expect(await redis.xlen(`z4j:events:${project}`)).toBe(0);
    // The pipeline's series name the source as z4j_source_* do (its kind and position), not its transport.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/^z4j_ingest_events_received_total\{source="agent-redis-1"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^z4j_source_connected\{source="agent-redis-1"\} 1$/m);
  });

  test('bad signatures, unknown agents and replays are refused, counted and acknowledged', async () => {
    const before = await batches();
    const good = batchOf(agent, lifecycle(agent, 'rq', randomUUID(), 'succeeded', { name: 'tasks.add', args: [], kwargs: {} }));
    await xaddBatch(redis, agent, { body: good.body, sig: 'ab'.repeat(32) });
    await xaddBatch(redis, { ...agent, id: 'nobody' }, batchOf({ ...agent, id: 'nobody' }, []));
    await xaddBatch(redis, agent, good);
    await xaddBatch(redis, agent, good); // the same batch again: stored once
    await eventually(async () => {
      const after = await batches();
      const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      expect([delta('redis:refused_bad_signature'), delta('redis:refused_unknown_agent'), delta('redis:ingested'), delta('redis:duplicate')]).toEqual([1, 1, 1, 1]);
    }, 30_000, 200);
    const pending = (await redis.xpending(`z4j:events:${project}`, 'z4j')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  test('an entry whose storing waits for a slow database is acknowledged only once it is committed', async () => {
    // The claim of idle entries (1 s here) finds it while it waits: it must not be answered
    // 'duplicate' and acknowledged then, or a crash before the commit would lose it.
    const lock = new pg.Client({ connectionString: databaseUrl });
    await lock.connect();
    const taskId = randomUUID();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE');
      await xaddBatch(redis, agent, batchOf(agent, lifecycle(agent, 'rq', taskId, 'succeeded', { name: 'tasks.add', args: [], kwargs: {} })));
      await sleep(4000);
      const waiting = (await redis.xpending(`z4j:events:${project}`, 'z4j')) as [number, ...unknown[]];
      expect(waiting[0]).toBe(1);
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }
    await eventually(async () => {
      expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND state = 'succeeded'`, [taskId])).toBe(1);
      expect(((await redis.xpending(`z4j:events:${project}`, 'z4j')) as [number])[0]).toBe(0);
    }, 30_000, 200);
  });

  test('a batch that can never be stored (its project does not exist) is refused, counted and acknowledged, and the stream goes on', async () => {
    const before = await batches();
    await redis.del(`z4j:events:${ghost.project}`);
    await xaddBatch(redis, ghost, batchOf(ghost, lifecycle(ghost, 'rq', randomUUID(), 'succeeded', { name: 'tasks.add', args: [], kwargs: {} })));
    const taskId = randomUUID();
    await xaddBatch(redis, agent, batchOf(agent, lifecycle(agent, 'rq', taskId, 'succeeded', { name: 'tasks.add', args: [], kwargs: {} })));
    await eventually(async () => {
      const after = await batches();
      expect((after['redis:refused_unknown_project'] ?? 0) - (before['redis:refused_unknown_project'] ?? 0)).toBe(1);
      expect(((await redis.xpending(`z4j:events:${ghost.project}`, 'z4j')) as [number])[0]).toBe(0);
      expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1`, [taskId])).toBe(1);
    }, 30_000, 200);
    await redis.del(`z4j:events:${ghost.project}`);
  });

  test('HTTP ingest: a retry payload JSON cannot write is dropped and counted; the batch and its other events are stored', async () => {
    const broken = randomUUID();
    const fine = randomUUID();
    const events = [
      ...lifecycle(agent, 'arq', broken, 'succeeded', { name: 'deep', args: ['__DEEP__'], kwargs: {} }),
      ...lifecycle(agent, 'arq', fine, 'succeeded', { name: 'add', args: [1], kwargs: {} }),
    ];
    // The payload's argument nested 200,000 deep: JSON.parse reads it, JSON.stringify's recursion cannot write it.
    const body = Buffer.from(batchOf(agent, events).body.toString().replace('"__DEEP__"', `${'['.repeat(200_000)}1${']'.repeat(200_000)}`));
    const res = await fetch(`${svc.url}/api/ingest/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-z4j-agent': agent.id, 'x-z4j-signature': signBatch(body, agent.secret) }, body: new Uint8Array(body) });
    expect(res.status).toBe(202);
    await eventually(async () => expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = ANY($1) AND state = 'succeeded'`, [[broken, fine]])).toBe(2), 30_000, 200);
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL`, [broken])).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND sealed_payload IS NOT NULL`, [fine])).toBe(1);
  });

  test('HTTP ingest: 202 once, then 409 for the replay; 401 for bad signatures and stale batches; 400 for a bad batch', async () => {
    const post = (b: { body: Buffer; sig: string }, agentId = agent.id) =>
      fetch(`${svc.url}/api/ingest/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-z4j-agent': agentId, 'x-z4j-signature': b.sig }, body: new Uint8Array(b.body) });
    const taskId = randomUUID();
    const b = batchOf(agent, lifecycle(agent, 'arq', taskId, 'succeeded', { name: 'add', args: [1], kwargs: {} }));
    const ok = await post(b);
    expect([ok.status, await ok.json()]).toEqual([202, { accepted: 3 }]);
    expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND state = 'succeeded'`, [taskId])).toBe(1);
    const replay = await post(b);
    expect([replay.status, ((await replay.json()) as { error: { code: string } }).error.code]).toEqual([409, 'REPLAY']);
    expect((await post({ body: b.body, sig: '00'.repeat(32) })).status).toBe(401);
    expect((await post(batchOf(agent, [], { sentAt: Date.now() - 3_600_000 }))).status).toBe(401);
    expect((await post(batchOf(agent, [], { project: 'elsewhere' }))).status).toBe(400);
    // Not behind the Grafana proxy secret, and the Grafana-side routes are not reachable with an agent signature.
    const asAgent = await fetch(`${svc.url}/api/tasks`, { headers: { 'x-z4j-agent': agent.id, 'x-z4j-signature': b.sig } });
    expect(asAgent.status).toBe(401);
    await sleep(10);
  });

  test('RabbitMQ: batches on the durable queue are stored, refused ones acknowledged and counted', async () => {
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createConfirmChannel();
    try {
      await ch.checkQueue(AGENT_QUEUE); // the service made it, bounded: a publisher finds it (docs/agent-protocol.md)
      const publish = async (b: { body: Buffer; sig: string }) => {
        ch.sendToQueue(AGENT_QUEUE, b.body, { persistent: true, contentType: 'application/json', headers: { 'z4j-agent': agent.id, 'z4j-sig': b.sig } });
        await ch.waitForConfirms();
      };
      const before = await batches();
      const taskId = randomUUID();
      await publish(batchOf(agent, lifecycle(agent, 'taskiq', taskId, 'failed', { name: 't', args: [], kwargs: {} })));
      await publish({ body: batchOf(agent, []).body, sig: 'cd'.repeat(32) });
      await eventually(async () => expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND state = 'failed'`, [taskId])).toBe(1), 30_000, 200);
      await eventually(async () => {
        const after = await batches();
        expect((after['amqp:refused_bad_signature'] ?? 0) - (before['amqp:refused_bad_signature'] ?? 0)).toBe(1);
        expect((await ch.checkQueue(AGENT_QUEUE)).messageCount).toBe(0);
      }, 30_000, 200);

      // A batch whose storing fails for a while (the database away) goes back to the queue and
      // is stored on a later try; held unacknowledged instead, a prefetch window of them would
      // stop the consumer for good.
      const store = svc.agentIngest.store.bind(svc.agentIngest);
      let failures = 0;
      svc.agentIngest.store = async (batch, transport) => {
        if (failures < 2) {
          failures++;
          throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        }
        return store(batch, transport);
      };
      const later = randomUUID();
      try {
        await publish(batchOf(agent, lifecycle(agent, 'taskiq', later, 'succeeded', { name: 't', args: [], kwargs: {} })));
        await eventually(async () => expect(await count(`SELECT count(*)::int AS n FROM tasks WHERE task_id = $1 AND state = 'succeeded'`, [later])).toBe(1), 30_000, 200);
        expect(failures).toBe(2);
      } finally {
        svc.agentIngest.store = store;
      }
    } finally {
      await ch.deleteQueue(AGENT_QUEUE).catch(() => undefined);
      await conn.close();
    }
  });

  test('the agent’s own report is kept: drop counter and last seen', async () => {
    await xaddBatch(redis, agent, batchOf(agent, [], { dropped: 17, seq: 99 }));
    await eventually(async () => {
      const s = (await svc.db.query<{ dropped: string; last_seq: string }>('SELECT dropped, last_seq FROM agent_status WHERE agent_id = $1', [agent.id])).rows[0];
      expect(s && [Number(s.dropped), Number(s.last_seq)]).toEqual([17, 99]);
    }, 30_000, 200);
  });

  test('a worker heartbeat from an agent shows its concurrency, dropped events and payloads and the day\'s failures', async () => {
    const worker = `w-${randomUUID().slice(0, 6)}@agent`;
    const at = Date.now();
    const heartbeat = { v: 1, id: randomUUID(), type: 'worker', engine: 'rq', project, kind: 'worker-heartbeat', worker, occurredAt: at, fields: { freq: 2, active: 1, processed: 40, concurrency: 4, dropped: 7, payloadsDropped: 3 } };
    const failed = lifecycle(agent, 'rq', randomUUID(), 'failed', { name: 'tasks.fail', args: [], kwargs: {}, queue: 'q' }, at).map((e) => ({ ...e, worker }));
    await xaddBatch(redis, agent, batchOf(agent, [heartbeat, ...failed]));
    await eventually(async () => {
      const res = await fetch(`${svc.url}/api/workers?engine=rq`, { headers: authHeaders('viewer') });
      const w = ((await res.json()) as { workers: Record<string, unknown>[] }).workers.find((x) => x.hostname === worker);
      expect(w).toMatchObject({ online: true, active: 1, processed: 40, concurrency: 4, dropped: 7, payloadsDropped: 3, failed24h: 1 });
    }, 30_000, 200);
  });

  test('two deployments on one Redis database, each with its own group: each stores its own agents\' batches and leaves the other\'s for it', async () => {
    // Staging and production on one managed Redis (often database 0 alone), both project "default".
    const theirs = testAgent(project);
    const other = await startService(loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: await createTestDatabase('agent_ingest_other'),
      Z4J_AGENT_REDIS_URLS: [REDIS_URL],
      Z4J_AGENT_STREAM_GROUP: 'z4j-other',
      Z4J_AGENT_KEYS: [agentKeyEntry(theirs)],
      Z4J_CELERY_BROKERS: [],
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
    const stream = `z4j:events:${project}`;
    try {
      await eventually(async () => expect(((await redis.xinfo('GROUPS', stream)) as unknown[]).length).toBe(2), 30_000, 200);
      const ours = Array.from({ length: 20 }, () => randomUUID());
      const their = Array.from({ length: 20 }, () => randomUUID());
      for (let i = 0; i < 20; i++) {
        await xaddBatch(redis, agent, batchOf(agent, lifecycle(agent, 'rq', ours[i]!, 'succeeded', { name: 'tasks.add', args: [i], kwargs: {} })));
        await xaddBatch(redis, theirs, batchOf(theirs, lifecycle(theirs, 'rq', their[i]!, 'succeeded', { name: 'tasks.add', args: [i], kwargs: {} })));
      }
      const stored = async (s: Service, ids: string[]) => (await s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE task_id = ANY($1)`, [ids])).rows[0]!.n;
      await eventually(async () => {
        expect([await stored(svc, ours), await stored(other, their)]).toEqual([20, 20]);
        expect(await redis.xlen(stream)).toBe(0); // each batch deleted once the deployment that knows its agent stored it
      }, 60_000, 200);
      expect([await stored(svc, their), await stored(other, ours)]).toEqual([0, 0]);
    } finally {
      await other.stop();
      await redis.xgroup('DESTROY', stream, 'z4j-other');
    }
  });
});
