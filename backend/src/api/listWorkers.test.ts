// The worker list is the fleet, not every hostname ever seen: containers bring a new hostname
// each, so offline workers drop out of it after a while (and the list is bounded).
import request from 'supertest';
import type { Db } from '../db/db.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

describe('GET /api/workers', () => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];

  beforeAll(async () => {
    db = await openTestDb('pglite', 'list_workers');
    app = testApp(db).app;
    const seen = (hostname: string, online: boolean, lastSeen: string) => db.query(
      `INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at, heartbeat_s, active)
       SELECT id, 'celery', $1, $2, now() - interval '90 days', now() - $3::interval, 2, 3 FROM projects WHERE slug = 'default'`,
      [hostname, online, lastSeen],
    );
    await seen('celery@up', true, '1 second');
    await seen('celery@gone-2d', false, '2 days');
    await seen('celery@gone-30d', false, '30 days');
  });
  afterAll(async () => {
    await db?.close();
  });

  const hostnames = async (query: Record<string, string> = {}) => {
    const res = await request(app).get('/api/workers').set(authHeaders()).query(query);
    expect(res.status).toBe(200);
    expect(res.body.truncated).toBe(false);
    return (res.body.workers as { hostname: string; online: boolean }[]).map((w) => `${w.hostname}${w.online ? ' (online)' : ''}`);
  };

  test('online workers and those seen in the last week by default; more or fewer on request', async () => {
    expect(await hostnames()).toEqual(['celery@gone-2d', 'celery@up (online)']);
    expect(await hostnames({ offlineDays: '0' })).toEqual(['celery@up (online)']);
    expect(await hostnames({ offlineDays: '60' })).toEqual(['celery@gone-2d', 'celery@gone-30d', 'celery@up (online)']);
    expect((await request(app).get('/api/workers').set(authHeaders()).query({ offlineDays: '-1' })).status).toBe(400);
  });

  test('an unknown or misspelt parameter is refused here and on the other lists, not ignored', async () => {
    for (const [path, query] of [['/api/workers', { engin: 'rq' }], ['/api/queues', { engin: 'rq' }], ['/api/task-names', { prefx: 'a' }]] as const) {
      const res = await request(app).get(path).set(authHeaders()).query(query);
      expect([path, res.status, res.body.error.code]).toEqual([path, 400, 'BAD_REQUEST']);
      expect((await request(app).get(path).set(authHeaders()).query({ project: 'default' })).status).toBe(200);
    }
  });

  test("a host running workers of two engines has each engine's failures, not their sum; an empty list filter is refused", async () => {
    for (const engine of ['rq', 'huey']) {
      await db.query(`INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at, heartbeat_s)
        SELECT id, $1, 'shared-host', true, now(), now(), 2 FROM projects WHERE slug = 'default'`, [engine]);
    }
    for (const id of ['f1', 'f2']) {
      await db.query(`INSERT INTO tasks (project_id, engine, task_id, state, worker, first_seen_at, last_event_at, attempt_at, state_at)
        SELECT id, 'rq', $1, 'failed', 'shared-host', now(), now(), now(), now() FROM projects WHERE slug = 'default'`, [id]);
    }
    const res = await request(app).get('/api/workers').set(authHeaders());
    const shared = (res.body.workers as { engine: string; hostname: string; failed24h: number }[]).filter((w) => w.hostname === 'shared-host');
    expect(shared.map((w) => `${w.engine} ${w.failed24h}`)).toEqual(['huey 0', 'rq 2']);
    for (const query of [{ engine: '' }, { state: ',' }]) {
      const empty = await request(app).get('/api/tasks').set(authHeaders()).query(query);
      expect([empty.status, empty.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    }
  });

  test("an offline worker runs nothing z4j knows of: its last heartbeat's tasks in flight are not shown", async () => {
    const res = await request(app).get('/api/workers').set(authHeaders());
    const active = Object.fromEntries((res.body.workers as { hostname: string; active: number | null }[]).map((w) => [w.hostname, w.active]));
    expect([active['celery@up'], active['celery@gone-2d']]).toEqual([3, null]);
  });
});
