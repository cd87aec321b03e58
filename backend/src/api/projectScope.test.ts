// Actions reach only the caller's project. The drivers act on the brokers the service is
// configured with, whichever project reports there: only the projects Z4J_BROKER_PROJECTS names
// act at all (an agent of any project can report any queue name), and among them only on
// queues and workers the project has seen.
import request from 'supertest';
import type { Db } from '../db/db.js';
import type { EngineDriver } from '../engines/driver.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, userHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

/** A Celery driver that records what reached it. */
function recordingDriver(calls: string[]): EngineDriver {
  return {
    engine: 'celery',
    capabilities: { 'queue.purge': { via: 'broker' }, 'queue.requeue_dead_letters': { via: 'broker' }, 'worker.pool_grow': { via: 'broker' }, 'worker.shutdown': { via: 'broker' } },
    purgeQueue: async (queue) => { calls.push(`purge ${queue}`); return { purged: 3 }; },
    requeueDeadLetters: async (queue) => { calls.push(`requeue ${queue}`); return { requeued: 1 }; },
    queueDepth: async (queue) => { calls.push(`depth ${queue}`); return 3; },
    workerControl: async (hostname, action) => {
      if (hostname === 'celery@broken') throw new Error('Connection refused to redis://:hunter2pass@broker:6379/0');
      calls.push(`${action} ${hostname}`);
      return { detail: { reply: 'ok' } };
    },
  };
}

describe('actions on queues and workers, within the project', () => {
  let db: Db;
  let api: ReturnType<typeof testApp>;
  /** The same service, configured to let "other" act on its brokers too. */
  let shared: ReturnType<typeof testApp>;
  const calls: string[] = [];
  // Vera is an Admin of project "other" and only a Viewer in "default".
  const vera = authHeaders('viewer');
  let key = 0;
  const post = (path: string, body: object = {}, headers = vera, app = shared.app) =>
    request(app).post(path).set(headers).set('idempotency-key', `scope-test-${++key}`).send(body);

  beforeAll(async () => {
    db = await openTestDb('pglite', 'project_scope');
    api = testApp(db, { drivers: new Map([['celery', recordingDriver(calls)]]) });
    shared = testApp(db, { drivers: new Map([['celery', recordingDriver(calls)]]), config: { Z4J_BROKER_PROJECTS: ['default', 'other'] } });
    await request(api.app).post('/api/projects').set(authHeaders('owner')).send({ slug: 'other', name: 'Other' }).expect(201);
    await request(api.app).put('/api/members/101?project=other').set(authHeaders('owner')).send({ login: 'vera', role: 'admin' }).expect(201);
    // The default project has seen queue "payments" and worker "celery@pay-1"; "other" has seen neither.
    await db.query(`INSERT INTO queues (project_id, engine, name, first_seen_at, last_seen_at) SELECT id, 'celery', 'payments', now(), now() FROM projects WHERE slug = 'default'`);
    for (const hostname of ['celery@pay-1', 'celery@broken']) {
      await db.query(`INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at) SELECT id, 'celery', $1, true, now(), now() FROM projects WHERE slug = 'default'`, [hostname]);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  test("another project allowed on the brokers still reaches neither the queue nor the worker it has not seen: 404, nothing sent, audited", async () => {
    const refusals = [
      await post('/api/queues/celery/payments/purge-preview?project=other'),
      await post('/api/queues/celery/payments/requeue-dead-letters?project=other'),
      await post('/api/workers/celery/celery@pay-1/actions/pool_grow?project=other', { n: 1 }),
      await post('/api/workers/celery/celery@pay-1/shutdown?project=other'),
    ];
    expect(refusals.map((r) => [r.status, r.body.error?.code])).toEqual([
      [404, 'QUEUE_NOT_FOUND'], [404, 'QUEUE_NOT_FOUND'], [404, 'WORKER_NOT_FOUND'], [404, 'WORKER_NOT_FOUND'],
    ]);
    expect(calls).toEqual([]);
    const audited = await db.query<{ action: string; outcome: string; target: string }>(
      `SELECT a.action, a.outcome, a.target FROM audit_log a JOIN projects p ON p.id = a.project_id WHERE p.slug = 'other' AND a.action LIKE ANY (ARRAY['queue.%', 'worker.%']) ORDER BY a.seq`,
    );
    // Each under the action and target its success would have had (worker.pool_grow, as its command).
    expect(audited.rows.map((r) => `${r.action} ${r.outcome} ${r.target}`)).toEqual([
      'queue.purge_preview refused celery/payments', 'queue.requeue_dead_letters refused celery/payments', 'worker.pool_grow refused celery/celery@pay-1', 'worker.shutdown refused celery/celery@pay-1',
    ]);
  });

  test("by default another project acts on nothing, even a queue its own agent reported: 409, nothing sent, audited", async () => {
    // What an Admin of "other" can forge: an agent minted there reports a task on queue "payments".
    await db.query(`INSERT INTO queues (project_id, engine, name, first_seen_at, last_seen_at) SELECT id, 'celery', 'payments', now(), now() FROM projects WHERE slug = 'other'`);
    api.pipeline.start();
    await api.pipeline.offer('test', { v: 1, type: 'task', id: 'forged-ev-1', engine: 'celery', project: 'other', kind: 'failed', taskId: 'forged-1', occurredAt: Date.now(), fields: { name: 'x', queue: 'payments' } });
    await api.pipeline.drained();
    try {
      const refusals = [
        await post('/api/queues/celery/payments/purge-preview?project=other', {}, vera, api.app),
        await post('/api/queues/celery/payments/requeue-dead-letters?project=other', {}, vera, api.app),
        await post('/api/tasks/celery/forged-1/actions/retry?project=other', {}, vera, api.app),
        await post('/api/bulk?project=other', { action: 'retry', filters: { state: 'failed' } }, vera, api.app),
      ];
      expect(refusals.map((r) => [r.status, r.body.error?.code])).toEqual(Array(4).fill([409, 'BROKER_NOT_IN_PROJECT']));
      expect(refusals[0]!.body.error.message).toMatch(/Z4J_BROKER_PROJECTS/);
      expect(calls).toEqual([]);
      const caps = await request(api.app).get('/api/capabilities?project=other').set(vera);
      expect(caps.body).toEqual({ engines: [], sendable: [], capabilities: expect.any(Array), brokersNotInProject: true });
      expect(caps.body.capabilities.every((c: { engines: object }) => Object.keys(c.engines).length === 0)).toBe(true);
      const preview = await post('/api/bulk/preview?project=other', { action: 'retry', filters: { state: 'failed' } }, vera, api.app);
      expect(preview.body.engines).toEqual([{ engine: 'celery', count: 1, supported: false }]);
      const audited = await db.query<{ action: string; outcome: string; target: string }>(
        `SELECT a.action, a.outcome, a.target FROM audit_log a JOIN projects p ON p.id = a.project_id WHERE p.slug = 'other' AND a.action IN ('queue.purge_preview', 'queue.requeue_dead_letters', 'task.retry', 'bulk.start') ORDER BY a.seq DESC LIMIT 4`,
      );
      // Each under the target its success would have (the queue, the task); a bulk start, its URL.
      expect(audited.rows.map((r) => `${r.action} ${r.outcome} ${r.target}`).sort()).toEqual([
        'bulk.start refused /api/bulk?project=other', 'queue.purge_preview refused celery/payments', 'queue.requeue_dead_letters refused celery/payments', 'task.retry refused celery/forged-1',
      ]);
      // Its own project still acts, and "other" sees the engines where it is allowed.
      expect((await request(api.app).get('/api/capabilities').set(vera)).body.engines).toEqual(['celery']);
      expect((await request(shared.app).get('/api/capabilities?project=other').set(vera)).body).not.toHaveProperty('brokersNotInProject');
    } finally {
      await api.pipeline.stop();
      await db.query(`DELETE FROM queues WHERE project_id = (SELECT id FROM projects WHERE slug = 'other')`);
    }
  });

  test('in the project that has seen them, the same actions run', async () => {
    const admin = userHeaders({ UserID: 120, Login: 'olive', OrgID: 1, OrgRole: 'Admin', IsGrafanaAdmin: true });
    const preview = await post('/api/queues/celery/payments/purge-preview', {}, admin);
    expect([preview.status, preview.body.depth]).toEqual([200, 3]);
    const purge = await post('/api/queues/celery/payments/purge', { token: preview.body.token }, admin);
    expect([purge.status, purge.body.command.state, purge.body.command.outcome.purged]).toEqual([202, 'succeeded', 3]);
    expect((await post('/api/workers/celery/celery@pay-1/actions/pool_grow', { n: 1 }, admin)).body.command.state).toBe('succeeded');
    expect(calls).toEqual(['depth payments', 'purge payments', 'pool_grow celery@pay-1']);
  });

  test("the health check names the engines its own project has seen reporting, not another project's", async () => {
    const health = async (project: string) => (await request(api.app).get(`/api/healthz?project=${project}`).set(vera)).body.engines.map((e: { engine: string }) => e.engine);
    expect({ default: await health('default'), other: await health('other') }).toEqual({ default: ['celery'], other: [] });
  });

  test("a broker's error is the failed command's outcome, without the password it quoted", async () => {
    const admin = userHeaders({ UserID: 120, Login: 'olive', OrgID: 1, OrgRole: 'Admin', IsGrafanaAdmin: true });
    const r = await post('/api/workers/celery/celery@broken/actions/pool_grow', { n: 1 }, admin);
    expect(r.body.command).toMatchObject({ state: 'failed', outcome: { message: expect.stringMatching(/could not be reached: Connection refused to redis:\/\/:\[redacted\]@broker/) } });
    expect(JSON.stringify(r.body)).not.toContain('hunter2pass');
  });
});
