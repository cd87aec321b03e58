// /metrics: open to Prometheus by default; with Z4J_METRICS_TOKEN, only for that bearer token.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { testApp } from '../../test/helpers/api.js';
import { openTestDb } from '../../test/helpers/storage.js';

const TOKEN = 'scrape-me-please-0123456789';

describe('/metrics', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb('pglite', 'metrics_token');
  });
  afterAll(() => db?.close());

  it('answers a scrape without credentials when no token is set', async () => {
    const res = await request(testApp(db).app).get('/metrics');
    expect([res.status, res.text]).toEqual([200, expect.stringContaining('z4j_ingest_events_persisted_total')]);
  });

  it('with Z4J_METRICS_TOKEN, answers only a scrape that carries it, and counts the refusals', async () => {
    const t = testApp(db, { config: { Z4J_METRICS_TOKEN: TOKEN } });
    const missing = await request(t.app).get('/metrics');
    expect([missing.status, missing.body.error.code, missing.headers['www-authenticate']]).toEqual([401, 'CREDENTIALS_MISSING', 'Bearer realm="z4j metrics"']);
    const wrong = await request(t.app).get('/metrics').set('authorization', `Bearer ${TOKEN}x`);
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'METRICS_TOKEN_WRONG']);
    expect((await request(t.app).get('/metrics').set('authorization', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`)).status).toBe(401);
    expect(wrong.text).not.toContain('z4j_');

    const ok = await request(t.app).get('/metrics').set('authorization', `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/z4j_auth_refused_total\{status="401",code="CREDENTIALS_MISSING",audited="no"\} 2/);
    expect(ok.text).toMatch(/z4j_auth_refused_total\{status="401",code="METRICS_TOKEN_WRONG",audited="no"\} 1/);
    // The probes stay open: a load balancer carries no token.
    expect((await request(t.app).get('/readyz')).status).toBe(200);
  });
});
