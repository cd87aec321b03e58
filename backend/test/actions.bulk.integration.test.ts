// Bulk retry across two engines with real workers: 250 failed Celery tasks and 250 failed RQ
// jobs, previewed, retried in chunks by the background runner, each rerun exactly once — also
// when the runner is made to walk the same tasks again, as after a crash.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BulkActions } from '../src/actions/bulk.js';
import { payloadAad } from '../src/actions/payloads.js';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { REDIS_URL, isolatedCelery, sendTasks, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { RQ_REDIS_URL, rqctl, startRqWorker, uniqueQueue, type RqWorker } from './helpers/rq.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(300_000);

const PER_ENGINE = 250;

interface Job { id: number; state: string; total: number; progress: { done: number; succeeded: number; failed: number; skipped: number } }

describe('bulk retry of 500 failed tasks across Celery and RQ', () => {
  let celery: CeleryEnv;
  let svc: Service;
  let worker: Worker;
  let rqWorker: RqWorker;
  const celeryCounters = new Redis(REDIS_URL);
  const rqCounters = new Redis(RQ_REDIS_URL);
  const celeryKeys = Array.from({ length: PER_ENGINE }, () => randomUUID());
  const rqKeys = Array.from({ length: PER_ENGINE }, () => randomUUID());

  async function call<T>(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...authHeaders('operator'), ...(key ? { 'idempotency-key': key } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  }
  const failedCount = async (engine: string) => (await svc.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE engine = $1 AND state = 'failed'`, [engine])).rows[0]!.n;
  const counts = async (redis: Redis, prefix: string, keys: string[]) => (await redis.mget(keys.map((k) => prefix + k))).map(Number);

  beforeAll(async () => {
    celery = isolatedCelery(REDIS_URL);
    const rqQueue = uniqueQueue('bulk');
    svc = await startService(loadConfig({}, {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: await createTestDatabase('bulk'),
      Z4J_CELERY_BROKERS: [celery.broker],
      Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange,
      Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange,
      Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
      Z4J_RQ_REDIS_URL: RQ_REDIS_URL,
      Z4J_INGEST_FLUSH_MS: 20,
      Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'warn' }) });
    worker = startWorker(celery, { concurrency: 2 });
    rqWorker = startRqWorker([rqQueue]);
    const projectId = (await svc.db.query<{ id: number }>("SELECT id FROM projects WHERE slug = 'default'")).rows[0]!.id;

    // Celery: tasks that fail once, each with a secret kwarg; their payloads sealed as ingest stores the agent's.
    const sent = celeryKeys.map((key) => ({ name: 'z4j.fail_once', args: [key], kwargs: { password: 'hunter2-secret' } }));
    const ids = await sendTasks(celery, sent);
    // RQ: real jobs that fail once; their lifecycle reported as the agent reports it.
    const jobIds = await rqctl<string[]>('enqueue-many', rqQueue, 'flaky', JSON.stringify(rqKeys.map((k) => [k])));
    await eventually(async () => expect((await counts(rqCounters, 'z4j-test-rq-flaky:', rqKeys)).every((n) => n === 1)).toBe(true), 120_000, 500);
    const now = Date.now();
    for (const [i, id] of jobIds.entries()) {
      for (const [n, kind] of (['enqueued', 'failed'] as const).entries()) {
        await svc.pipeline.offer('test-agent', { v: 1, type: 'task', id: `${id}-${kind}`, engine: 'rq', project: 'default', kind, taskId: id, occurredAt: now + i + n, fields: { name: 'tasks.flaky', queue: rqQueue, retries: 0 } });
      }
    }
    await eventually(async () => {
      expect(await failedCount('celery')).toBe(PER_ENGINE);
      expect(await failedCount('rq')).toBe(PER_ENGINE);
    }, 120_000, 500);
    for (const [i, id] of ids.entries()) {
      const payload = { ...sent[i]!, queue: celery.queue };
      const sealed = svc.sealer.seal(JSON.stringify(payload), payloadAad(projectId, 'celery', id));
      const stored = await svc.db.query('UPDATE tasks SET sealed_payload = $4 WHERE project_id = $1 AND engine = $2 AND task_id = $3 RETURNING id', [projectId, 'celery', id, sealed]);
      expect(stored.rows).toHaveLength(1);
    }
  });

  afterAll(async () => {
    await worker?.stop();
    await rqWorker?.stop();
    await svc?.stop();
    celeryCounters.disconnect();
    rqCounters.disconnect();
  });

  test('preview, run in chunks with progress, every task rerun exactly once', async () => {
    const filters = { state: 'failed' };
    const preview = await call<{ count: number; engines: { engine: string; count: number; supported: boolean }[]; sample: unknown[] }>('POST', '/api/bulk/preview', { action: 'retry', filters });
    expect(preview.status).toBe(200);
    expect(preview.body.count).toBe(2 * PER_ENGINE);
    expect(preview.body.engines).toEqual([{ engine: 'celery', count: PER_ENGINE, supported: true }, { engine: 'rq', count: PER_ENGINE, supported: true }]);
    expect(preview.body.sample).toHaveLength(10);

    // One task's audit row cannot be written the first time (the database drops at that
    // moment): its chunk is walked again, and the row must still be written, once.
    const auditLog = (svc.bulk as unknown as { audit: { append: (entry: { actor: { id: string | null } }, tx?: unknown) => Promise<unknown> } }).audit;
    const append = auditLog.append.bind(auditLog);
    let appendFailures = 0;
    auditLog.append = async (entry, tx) => {
      if (entry.actor.id?.startsWith('bulk:') && appendFailures++ === 0) throw new Error('the audit log is unreachable');
      return append(entry, tx);
    };

    const key = randomUUID();
    const started = await call<{ job: Job }>('POST', '/api/bulk', { action: 'retry', filters }, key);
    expect(started.status).toBe(202);
    expect(started.body.job.total).toBe(2 * PER_ENGINE);
    const again = await call<{ job: Job }>('POST', '/api/bulk', { action: 'retry', filters }, key);
    expect([again.status, again.body.job.id]).toEqual([200, started.body.job.id]);

    const progress: number[] = [];
    const done = await eventually(async () => {
      const r = await call<{ job: Job }>('GET', `/api/bulk/${started.body.job.id}`);
      progress.push(r.body.job.progress.done);
      if (r.body.job.state !== 'succeeded') throw new Error(`bulk job is ${r.body.job.state}, ${r.body.job.progress.done} done`);
      return r.body.job;
    }, 240_000, 500);
    expect(done.progress).toMatchObject({ done: 500, succeeded: 500, failed: 0, skipped: 0 });
    expect(new Set(progress).size).toBeGreaterThan(1); // progress was visible while it ran

    // Each original ran twice: its failure, then exactly one retry.
    await eventually(async () => {
      expect(await counts(celeryCounters, 'z4j-test-fail-once:', celeryKeys)).toEqual(celeryKeys.map(() => 2));
      expect(await counts(rqCounters, 'z4j-test-rq-flaky:', rqKeys)).toEqual(rqKeys.map(() => 2));
    }, 120_000, 1000);

    // As after a crash mid-job: walk the same tasks again. Nothing acts twice.
    await svc.db.query(`UPDATE bulk_jobs SET state = 'running', cursor = NULL, lease_until = NULL WHERE id = $1`, [started.body.job.id]);
    await svc.bulk.drain();
    const after = await call<{ job: Job }>('GET', `/api/bulk/${started.body.job.id}`);
    expect(after.body.job.progress.done).toBe(500);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await counts(celeryCounters, 'z4j-test-fail-once:', celeryKeys)).toEqual(celeryKeys.map(() => 2));
    expect(await counts(rqCounters, 'z4j-test-rq-flaky:', rqKeys)).toEqual(rqKeys.map(() => 2));

    // Each task's command is audited once, as the bulk job's, also after the walk again.
    const audited = await svc.db.query<{ n: number; targets: number; ok: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT target)::int AS targets, count(*) FILTER (WHERE outcome = 'ok')::int AS ok FROM audit_log WHERE actor_id = $1 AND action = 'task.retry'`,
      [`bulk:${started.body.job.id}`],
    );
    expect(audited.rows[0]).toEqual({ n: 500, targets: 500, ok: 500 });
    expect(appendFailures).toBeGreaterThan(500); // the failure happened, and every row was appended after it
    auditLog.append = append;

    // Per-task outcomes, paged.
    const page = await call<{ commands: { state: string; target: string }[]; nextAfter: number | null }>('GET', `/api/bulk/${started.body.job.id}/outcomes?limit=300`);
    expect(page.body.commands).toHaveLength(300);
    expect(page.body.nextAfter).not.toBeNull();
    const rest = await call<{ commands: unknown[] }>('GET', `/api/bulk/${started.body.job.id}/outcomes?limit=300&after=${page.body.nextAfter}`);
    expect(rest.body.commands).toHaveLength(200);
  });

  test('bulk cancel of waiting RQ jobs: each cancelled once, and the timeline says so', async () => {
    const parked = uniqueQueue('parked'); // no worker listens here
    const keys = Array.from({ length: 20 }, () => randomUUID());
    const ids = await rqctl<string[]>('enqueue-many', parked, 'count', JSON.stringify(keys.map((k) => [k])));
    for (const [i, id] of ids.entries()) {
      await svc.pipeline.offer('test-agent', { v: 1, type: 'task', id: `${id}-enqueued`, engine: 'rq', project: 'default', kind: 'enqueued', taskId: id, occurredAt: Date.now() + i, fields: { name: 'tasks.count', queue: parked } });
    }
    await eventually(async () => expect((await svc.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE queue = $1`, [parked])).rows[0]!.n).toBe(20), 30_000, 200);
    const started = await call<{ job: Job }>('POST', '/api/bulk', { action: 'cancel', filters: { queue: parked } }, randomUUID());
    expect(started.body.job.total).toBe(20);
    const done = await eventually(async () => {
      const r = await call<{ job: Job }>('GET', `/api/bulk/${started.body.job.id}`);
      if (r.body.job.state !== 'succeeded') throw new Error(`bulk cancel is ${r.body.job.state}`);
      return r.body.job;
    }, 60_000, 300);
    expect(done.progress).toMatchObject({ done: 20, succeeded: 20, failed: 0 });
    expect(await svc.actions.drivers.get('rq')!.queueDepth!(parked)).toBe(0);
    await eventually(async () => {
      const states = await svc.db.query<{ state: string }>(`SELECT state FROM tasks WHERE queue = $1`, [parked]);
      expect(states.rows.every((r) => r.state === 'revoked')).toBe(true);
    }, 30_000, 200);
  });

  test('refusals: no match, over the cap, bad filters', async () => {
    const none = await call<{ error: { code: string } }>('POST', '/api/bulk', { action: 'retry', filters: { state: 'failed', name: 'no.such.task' } }, randomUUID());
    expect([none.status, none.body.error.code]).toEqual([422, 'NO_TASKS']);
    const bad = await call<{ error: { code: string } }>('POST', '/api/bulk/preview', { action: 'retry', filters: { state: "failed'; DROP TABLE tasks;--" } });
    expect(bad.status).toBe(400);
    const capped = new BulkActions(svc.db, svc.actions, svc.log, 100);
    expect((await capped.preview(1, 'retry', { state: 'failed' })).overCap).toBe(true);
    await expect(capped.start(1, 'retry', { state: 'failed' }, 'test', randomUUID())).rejects.toMatchObject({ code: 'TOO_MANY_TASKS' });
    const badAction = await call<{ error: { code: string } }>('POST', '/api/bulk/preview', { action: 'explode', filters: {} });
    expect(badAction.status).toBe(400);
  });
});
