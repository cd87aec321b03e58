// Readiness: the public probe gives a load balancer its status code and counts, and names no
// source (a broker's host, an error quoting an address); the detail is for Grafana server admins.
import request from 'supertest';
import type { Db } from '../db/db.js';
import type { Source } from '../sources/source.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, tokenHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { mintApiToken } from '../auth/apiTokens.js';
import { DEFAULT_ROLE_MAPPING } from '../auth/roles.js';

const source = (name: string, broker: string, connected: boolean, lastError: string | null): Source => ({
  name, start: async () => {}, stop: async () => {}, status: () => ({ name, broker, connected, lastError, lastMessageAt: null }),
});

describe('readiness', () => {
  let db: Db;
  let t: ReturnType<typeof testApp>;
  beforeAll(async () => {
    db = await openTestDb('pglite', 'readiness');
    t = testApp(db);
    t.ctx.sources.push(
      source('celery-redis-1', 'redis://redis.internal.example:6379/0', true, null),
      source('agent-amqp-1', 'amqp://rabbit.internal.example:5672', false, 'connect ECONNREFUSED 10.1.2.3:5672'),
    );
  });
  afterAll(() => db.close());

  it('tells anyone whether the service is ready, with counts and no source names', async () => {
    const res = await request(t.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', storage: { kind: 'pglite', reachable: true }, sources: { total: 2, connected: 1 } });
    expect(res.text).not.toMatch(/internal\.example|10\.1\.2\.3/);
  });

  it('shows each source and the ingest counters to a Grafana server admin only', async () => {
    const admin = await request(t.app).get('/api/readyz').set(authHeaders('owner'));
    expect(admin.status).toBe(200);
    expect(admin.body.sources.map((s: { name: string; broker: string }) => [s.name, s.broker])).toEqual([
      ['celery-redis-1', 'redis://redis.internal.example:6379/0'], ['agent-amqp-1', 'amqp://rabbit.internal.example:5672'],
    ]);
    expect(admin.body.sources[1].lastError).toBe('connect ECONNREFUSED 10.1.2.3:5672');
    expect(admin.body.ingest).toEqual(expect.objectContaining({ queued: 0, persisted: 0 }));

    const projectAdmin = await request(t.app).get('/api/readyz').set(authHeaders('admin'));
    expect([projectAdmin.status, projectAdmin.body.error.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect(projectAdmin.text).not.toMatch(/internal\.example/);
    const audited = (await db.query<{ action: string; outcome: string; actor_name: string }>('SELECT action, outcome, actor_name FROM audit_log ORDER BY id DESC LIMIT 1')).rows[0];
    expect(audited).toEqual({ action: 'GET /api/readyz', outcome: 'refused', actor_name: 'ada' });

    const { secret } = await mintApiToken(db, { id: 1, roleMapping: DEFAULT_ROLE_MAPPING }, { name: 'probe', role: 'admin', expiresInDays: 1, createdBy: 'user:olga' });
    expect((await request(t.app).get('/api/readyz').set(tokenHeaders(secret))).body.error.code).toBe('USER_REQUIRED');
    expect((await request(t.app).get('/api/readyz')).status).toBe(401);
  });
});
