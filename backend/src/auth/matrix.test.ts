// The whole permission matrix: every route of the table × every role, plus no secret, a
// wrong secret and API tokens. A route that declares no role (or one this test does not
// know) fails the test.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { ROUTES, type Route } from '../api/routes.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, TEST_PROXY_SECRET, TEST_USERS, tokenHeaders, userHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { mintApiToken } from './apiTokens.js';
import { atLeast, DEFAULT_ROLE_MAPPING, PROJECT_ROLES, type ProjectRole } from './roles.js';

const KNOWN = new Set(['public', 'agent', 'user', ...PROJECT_ROLES]);
const concrete = (r: Route) => r.path.replace(':project', 'default').replace(/:(\w+)/g, (_m, name) => (name === 'userId' ? '999999' : 'nope'));
const call = (app: ReturnType<typeof testApp>['app'], r: Route) => request(app)[r.method](concrete(r));
/** `user` routes whose handler lets in Grafana server admins only (what they show or change serves every project). */
const SERVER_ADMIN_ONLY = new Set(['get /api/readyz', 'post /api/audit/rotate-key']);

describe('the permission matrix', () => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];
  const tokens: Partial<Record<ProjectRole, string>> = {};

  beforeAll(async () => {
    db = await openTestDb('pglite', 'matrix');
    app = testApp(db).app;
    for (const role of ['viewer', 'operator', 'admin'] as const) tokens[role] = (await mintApiToken(db, { id: 1, roleMapping: DEFAULT_ROLE_MAPPING }, { name: role, role, expiresInDays: 1, createdBy: 'test' })).secret;
  });
  afterAll(async () => {
    await db?.close();
  });

  it('every route declares a role this test knows', () => {
    expect(ROUTES.filter((r) => !KNOWN.has(r.role)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  const guarded = ROUTES.filter((r) => r.role !== 'public' && r.role !== 'agent');

  it.each(guarded.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))('%s: 401 without the secret, with a wrong one, with a bad token', async (_n, r) => {
    for (const headers of [{}, { 'x-z4j-proxy-secret': 'wrong-secret-wrong-secret' }, { ...userHeaders(TEST_USERS.owner, 'nope') }, tokenHeaders('z4j_forged'), { authorization: 'Basic YTpi' }]) {
      const res = await call(app, r).set(headers);
      expect({ status: res.status, headers }).toEqual({ status: 401, headers });
      expect(res.body.error.code).toMatch(/^(CREDENTIALS_MISSING|PROXY_SECRET_WRONG|TOKEN_INVALID)$/);
    }
    // The secret alone names nobody.
    expect((await call(app, r).set('x-z4j-proxy-secret', TEST_PROXY_SECRET)).status).toBe(401);
  });

  it.each(guarded.map((r) => [`${r.method.toUpperCase()} ${r.path} (${r.role})`, r] as const))('%s: 403 exactly for roles below the one declared', async (_n, r) => {
    for (const role of PROJECT_ROLES) {
      const res = await call(app, r).set(authHeaders(role));
      const refused = SERVER_ADMIN_ONLY.has(`${r.method} ${r.path}`) ? !TEST_USERS[role].IsGrafanaAdmin : r.role !== 'user' && !atLeast(role, r.role as ProjectRole);
      const got = { role, status: res.status, code: res.body?.error?.code ?? null };
      if (refused) expect(got).toEqual({ role, status: 403, code: 'ROLE_TOO_LOW' });
      else expect([401, 403].includes(got.status) ? got : 'allowed').toBe('allowed');
    }
    for (const [role, token] of Object.entries(tokens) as [ProjectRole, string][]) {
      const res = await call(app, r).set(tokenHeaders(token));
      const refused = r.role !== 'user' && !atLeast(role, r.role as ProjectRole);
      if (refused) expect({ role, status: res.status }).toEqual({ role, status: 403 });
      else expect({ role, status: res.status === 401 ? 401 : 'not 401' }).toEqual({ role, status: 'not 401' });
    }
  });

  it('public routes answer without credentials', async () => {
    for (const r of ROUTES.filter((x) => x.role === 'public')) expect((await call(app, r)).status).toBe(200);
  });

  it('audits every 403 and every 401 that names a project', async () => {
    const rows = (await db.query<{ outcome: string; status: number; n: number }>(
      `SELECT outcome, (detail->>'status')::int AS status, count(*)::int AS n FROM audit_log GROUP BY 1, 2 ORDER BY 2`,
    )).rows;
    const forbidden = guarded.filter((r) => r.role !== 'user').reduce((n, r) => n + PROJECT_ROLES.filter((role) => !atLeast(role, r.role as ProjectRole)).length, 0);
    expect(rows.find((r) => r.status === 403)?.n).toBeGreaterThanOrEqual(forbidden);
    expect(rows.find((r) => r.status === 401)?.n).toBeGreaterThan(0);
  });
});
