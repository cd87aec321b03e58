// An API token acts with at most its maker's current role in the project, through HTTP: a
// membership or a mapping change caps it at once, a Grafana role change from the maker's next
// call; tokens from before makers were recorded keep their role.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { openPostgres } from '../db/postgres.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, tokenHeaders, userHeaders, type TestUser } from '../../test/helpers/auth.js';
import { createTestDatabase, openTestDb, STORAGES } from '../../test/helpers/storage.js';
import { API_TOKEN_PREFIX } from './apiTokens.js';
import type { GrafanaUser } from './grafana.js';
import { hashSecret, newSecret } from './secrets.js';
import { noteMakerCall, rememberMaker, rolesOf } from './tokenMakers.js';

describe.each(STORAGES)('API tokens capped by their maker on %s', (storage) => {
  let db: Db;
  let t: ReturnType<typeof testApp>;
  const api = () => request(t.app);

  beforeAll(async () => {
    db = await openTestDb(storage, 'token-makers');
    t = testApp(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const mint = async (maker: TestUser, role: string): Promise<{ id: string; secret: string }> => {
    const res = await api().post('/api/tokens').set(userHeaders(maker)).send({ name: `${maker.Login}-${role}`, role });
    expect(res.status).toBe(201);
    return { id: res.body.token.id, secret: res.body.secret };
  };
  const listed = async (id: string) => (await api().get('/api/tokens').set(authHeaders('owner'))).body.tokens.find((x: { id: string }) => x.id === id);
  const lastAudit = async () => (await db.query<{ action: string; outcome: string; actor_kind: string; detail: Record<string, unknown> }>(
    'SELECT action, outcome, actor_kind, detail FROM audit_log ORDER BY id DESC LIMIT 1')).rows[0];

  it('mints as before: up to the minter\'s role, the secret once, acting with its role; the maker is recorded', async () => {
    const ada = { UserID: 103, Login: 'ada', OrgID: 1, OrgRole: 'Admin' as const, Teams: [9, 4, 9] };
    expect((await api().post('/api/tokens').set(authHeaders('operator')).send({ name: 'x', role: 'viewer' })).status).toBe(403);
    expect((await api().post('/api/tokens').set(userHeaders(ada)).send({ name: 'x', role: 'owner' })).status).toBe(400);
    const res = await api().post('/api/tokens').set(userHeaders(ada)).send({ name: 'ci', role: 'admin', expiresInDays: 7 });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^z4j_[A-Za-z0-9_-]{43}$/);
    expect(res.body.token).toMatchObject({ name: 'ci', role: 'admin', effectiveRole: 'admin', createdBy: 'user:ada', revokedAt: null });
    expect((await api().get('/api/tokens').set(tokenHeaders(res.body.secret))).status).toBe(200);
    expect(await lastAudit()).toMatchObject({ action: 'token.create', detail: { name: 'ci', role: 'admin' } });
    expect((await db.query('SELECT created_by_user_id::int AS u, created_by_org_id::int AS o FROM api_tokens WHERE id = $1', [res.body.token.id])).rows).toEqual([{ u: 103, o: 1 }]);
    expect((await db.query('SELECT org_role, is_grafana_admin, teams::int[] AS teams FROM token_makers WHERE user_id = 103')).rows)
      .toEqual([{ org_role: 'Admin', is_grafana_admin: false, teams: [4, 9] }]);
    await api().delete(`/api/tokens/${res.body.token.id}`).set(authHeaders('admin')).expect(200);
  });

  it('caps the token of an Admin lowered to Viewer by a membership: it reads, and an Operator\'s or Admin\'s call is refused', async () => {
    const mia = { UserID: 401, Login: 'mia', OrgID: 1, OrgRole: 'Admin' as const };
    const token = await mint(mia, 'admin');
    await api().put('/api/members/401').set(authHeaders('owner')).send({ login: 'mia', role: 'viewer' }).expect(201);
    expect((await api().get('/api/tasks').set(tokenHeaders(token.secret))).status).toBe(200);
    expect((await api().get('/api/me').set(tokenHeaders(token.secret))).body.role).toBe('viewer');
    const admin = await api().get('/api/tokens').set(tokenHeaders(token.secret));
    expect([admin.status, admin.body.error.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect(admin.body.error.message).toMatch(/you have viewer \(this token's admin role is capped by its maker's role/);
    const operator = await api().post('/api/bulk/999/cancel').set(tokenHeaders(token.secret));
    expect([operator.status, operator.body.error.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect(await lastAudit()).toMatchObject({
      action: 'bulk.cancel', outcome: 'refused', actor_kind: 'token',
      detail: { status: 403, code: 'ROLE_TOO_LOW', needed: 'operator', role: 'viewer', tokenRole: 'admin' },
    });
    // Capped, not revoked: the Admins see why, and it acts as minted once Mia's role is back.
    expect(await listed(token.id)).toMatchObject({ role: 'admin', effectiveRole: 'viewer', revokedAt: null });
    await api().delete('/api/members/401').set(authHeaders('owner')).expect(204);
    expect((await api().get('/api/tokens').set(tokenHeaders(token.secret))).status).toBe(200);
    expect(await listed(token.id)).toMatchObject({ effectiveRole: 'admin' });
    // Mia left with no role at all (no membership, and Grafana's None as she last called): the token reads nothing.
    await api().get('/api/me').set(userHeaders({ ...mia, OrgRole: 'None' })).expect(200);
    expect((await api().get('/api/tasks').set(tokenHeaders(token.secret))).status).toBe(403);
    expect(await listed(token.id)).toMatchObject({ role: 'admin', effectiveRole: null });
  });

  it("caps a token from its maker's next call that carries a lower Grafana role, and follows the role mapping at once", async () => {
    const noor = { UserID: 402, Login: 'noor', OrgID: 1, OrgRole: 'Admin' as const };
    const token = await mint(noor, 'admin');
    expect((await api().get('/api/tokens').set(tokenHeaders(token.secret))).status).toBe(200);
    // Grafana makes Noor an Editor: the service learns it when she next calls.
    expect((await api().get('/api/tasks').set(userHeaders({ ...noor, OrgRole: 'Editor' }))).status).toBe(200);
    expect((await api().get('/api/tokens').set(tokenHeaders(token.secret))).status).toBe(403);
    expect(await listed(token.id)).toMatchObject({ role: 'admin', effectiveRole: 'operator' });
    // What it still does is audited with the role it acted with.
    const cancel = await api().post('/api/bulk/999/cancel').set(tokenHeaders(token.secret));
    expect(cancel.status).toBe(404);
    expect(await lastAudit()).toMatchObject({ action: 'bulk.cancel', outcome: 'refused', actor_kind: 'token', detail: { status: 404, actedAs: 'operator', tokenRole: 'admin' } });
    // A team that maps to Admin raises her again, from her next call.
    const rules = (await api().get('/api/role-rules').set(authHeaders('owner'))).body.roleMapping;
    await api().put('/api/role-rules').set(authHeaders('owner')).send({ ...rules, teams: [{ teamId: 77, role: 'admin' }] }).expect(200);
    await api().get('/api/me').set(userHeaders({ ...noor, OrgRole: 'Editor', Teams: [77] })).expect(200);
    expect((await api().get('/api/tokens').set(tokenHeaders(token.secret))).status).toBe(200);
    // A mapping change applies without her calling.
    await api().put('/api/role-rules').set(authHeaders('owner')).send({ ...rules, orgRoles: { ...rules.orgRoles, Editor: 'viewer' }, teams: [] }).expect(200);
    expect((await api().post('/api/bulk/999/cancel').set(tokenHeaders(token.secret))).status).toBe(403);
    expect((await api().get('/api/tasks').set(tokenHeaders(token.secret))).status).toBe(200);
    await api().put('/api/role-rules').set(authHeaders('owner')).send(rules).expect(200);
    // Her calls from another organization say nothing of her roles in the one she minted from.
    await api().get('/api/me').set(userHeaders({ ...noor, OrgID: 2, OrgRole: 'Admin' })).expect(200);
    expect(await listed(token.id)).toMatchObject({ effectiveRole: 'operator' });
  });

  it("writes a maker's Grafana roles only when they change or a minute has passed, and nobody else's", async () => {
    const pia = { UserID: 403, Login: 'pia', OrgID: 1, OrgRole: 'Admin' as const, Teams: [7, 3] };
    await mint(pia, 'viewer');
    const seenAt = async () => (await db.query<{ at: string }>('SELECT seen_at::text AS at FROM token_makers WHERE user_id = 403')).rows[0]!.at;
    const first = await seenAt();
    for (const teams of [[7, 3], [3, 7], [3, 7, 7]]) await api().get('/api/tasks').set(userHeaders({ ...pia, Teams: teams })).expect(200);
    expect(await seenAt()).toBe(first);
    await api().get('/api/tasks').set(userHeaders({ ...pia, Teams: [3] })).expect(200);
    const changed = await seenAt();
    expect(changed).not.toBe(first);
    await db.query(`UPDATE token_makers SET seen_at = now() - interval '61 seconds' WHERE user_id = 403`);
    const stale = await seenAt();
    await api().get('/api/tasks').set(userHeaders({ ...pia, Teams: [3] })).expect(200);
    expect(await seenAt()).not.toBe(stale);
    // A user who made no token leaves no row.
    await api().get('/api/tasks').set(authHeaders('operator')).expect(200);
    expect((await db.query('SELECT count(*)::int AS n FROM token_makers WHERE user_id = 102')).rows).toEqual([{ n: 0 }]);
  });

  it("serves a maker's request when noting their roles fails: the note is a side effect", async () => {
    const rex = { UserID: 404, Login: 'rex', OrgID: 1, OrgRole: 'Admin' as const, Teams: [] };
    await mint(rex, 'viewer');
    await db.query(`UPDATE token_makers SET seen_at = now() - interval '61 seconds' WHERE user_id = 404`);
    // Every write of the maker's roles fails from here (a read-only failover, a lock timeout).
    await db.query(`ALTER TABLE token_makers ADD CONSTRAINT z4j_test_no_writes CHECK (seen_at < now() - interval '1 minute') NOT VALID`);
    try {
      await api().get('/api/tasks').set(userHeaders(rex)).expect(200);
    } finally {
      await db.query('ALTER TABLE token_makers DROP CONSTRAINT z4j_test_no_writes');
    }
  });

  it('keeps what the app proxy showed when a datasource call (org role only) comes in', async () => {
    const user: GrafanaUser = { userId: 404, uid: null, login: 'quinn', name: null, email: null, orgId: 1, orgRole: 'Admin', isGrafanaAdmin: true, teams: [5] };
    await rememberMaker(db, user, 'app');
    const seen = async () => (await rolesOf(db, 1, { userId: 404, orgId: 1 })).seen;
    await noteMakerCall(db, { ...user, orgRole: 'Viewer', isGrafanaAdmin: false, teams: [] }, 'datasource', (await seen())!, false);
    expect(await seen()).toEqual({ orgRole: 'Viewer', isGrafanaAdmin: true, teams: [5] });
    // An ID token without a role claim shows nothing.
    await noteMakerCall(db, { ...user, orgRole: null, isGrafanaAdmin: false, teams: [] }, 'datasource', (await seen())!, true);
    expect(await seen()).toEqual({ orgRole: 'Viewer', isGrafanaAdmin: true, teams: [5] });
  });
});

describe.each(STORAGES)('an API token from before makers were recorded, on %s', (storage) => {
  let db: Db;

  afterAll(async () => {
    await db?.close();
  });

  it('keeps acting with the role it was minted with', async () => {
    db = storage === 'postgres' ? openPostgres(await createTestDatabase('token-makers-old')) : await openPglite('memory://');
    await migrate(db, loadMigrations().filter((m) => m.version <= 22));
    const secret = newSecret(API_TOKEN_PREFIX);
    await db.query(
      `INSERT INTO api_tokens (id, project_id, name, role, token_hash, created_by, expires_at) VALUES ('tok_old', 1, 'old', 'admin', $1, 'user:ada', now() + interval '1 day')`,
      [hashSecret(secret)],
    );
    await migrate(db);
    const api = () => request(testApp(db).app);
    // Its maker is known by login only: whatever Ada's Grafana role is now, the token is Admin.
    await api().get('/api/me').set(userHeaders({ UserID: 103, Login: 'ada', OrgID: 1, OrgRole: 'Viewer' })).expect(200);
    expect((await api().get('/api/tokens').set(tokenHeaders(secret))).status).toBe(200);
    expect((await api().get('/api/me').set(tokenHeaders(secret))).body.role).toBe('admin');
    const listed = (await api().get('/api/tokens').set(authHeaders('admin'))).body.tokens;
    expect(listed).toEqual([expect.objectContaining({ id: 'tok_old', role: 'admin', effectiveRole: 'admin', createdBy: 'user:ada' })]);
  });
});
