// Projects, roles, members, API tokens, agent credentials and the audit API, through HTTP.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { Db } from '../db/db.js';
import { AuditKeyRing, formatAuditKeys } from '../audit/keys.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, TEST_USERS, tokenHeaders, userHeaders } from '../../test/helpers/auth.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import { signBatch, verifyAgentBatch } from '../ingest/agentBatch.js';
import { AGENT_KEY_FRESH_MS, DbAgentKeyStore } from './agentCredentials.js';
import { mintApiToken } from './apiTokens.js';
import { DEFAULT_ROLE_MAPPING } from './roles.js';

describe.each(STORAGES)('identity API on %s', (storage) => {
  let db: Db;
  let t: ReturnType<typeof testApp>;
  let dir: string;
  const api = () => request(t.app);

  beforeAll(async () => {
    db = await openTestDb(storage, 'identity');
    dir = mkdtempSync(join(tmpdir(), 'z4j-keys-'));
    const file = join(dir, 'audit.key');
    const keys = [{ id: 1, key: randomBytes(32) }];
    writeFileSync(file, formatAuditKeys(keys));
    t = testApp(db, { auditKeys: new AuditKeyRing(keys, file) });
  });
  afterAll(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async (table: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  const lastAudit = async () => (await db.query<{ action: string; outcome: string; actor_name: string; target: string; detail: Record<string, unknown> }>(
    'SELECT action, outcome, actor_name, target, detail FROM audit_log ORDER BY id DESC LIMIT 1')).rows[0];

  it('tells the plugin who the caller is and their role (GET /api/me)', async () => {
    const res = await api().get('/api/me').set(authHeaders('operator'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: { login: 'otto', name: 'Otto Operator', email: 'otto@example.com' },
      project: { slug: 'default', name: 'Default' },
      role: 'operator', grafanaRole: 'Editor', isGrafanaAdmin: false,
    });
    expect((await api().get('/api/me').set(authHeaders('owner'))).body).toMatchObject({ role: 'owner', isGrafanaAdmin: true });
    const none = { UserID: 7, Login: 'nobody', OrgID: 1, OrgRole: 'None' as const };
    expect((await api().get('/api/me?project=default').set(userHeaders(none))).body).toMatchObject({ role: null, project: { slug: 'default', name: null } });
    // The public liveness probe says nothing of what z4j observes; the Viewers' health check does.
    const probe = await api().get('/healthz');
    expect([probe.status, Object.keys(probe.body).sort()]).toEqual([200, ['status', 'storage', 'version']]);
    expect((await api().get('/api/healthz').set(authHeaders('viewer'))).body.engines).toEqual(expect.any(Array));
    expect((await api().get('/api/me?project=nope').set(authHeaders())).body.error.code).toBe('PROJECT_NOT_FOUND');
  });

  it('refuses anonymous and malformed Grafana contexts', async () => {
    for (const ctx of ['{not json', '{}', JSON.stringify({ UserID: 0, Login: 'anon', OrgID: 1, IsAnonymous: true }), JSON.stringify({ UserID: 5, Login: 'x', OrgID: 0 })]) {
      const res = await api().get('/api/tasks').set({ ...authHeaders(), 'x-grafana-context': ctx });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toMatch(/^IDENTITY_/);
    }
    // A browser-settable org header changes nothing.
    expect((await api().get('/api/me').set({ ...authHeaders('viewer'), 'x-grafana-org-id': '2' })).body.role).toBe('viewer');
  });

  it('maps Grafana roles and teams per project; explicit memberships override', async () => {
    const teamUser = { UserID: 201, Login: 'tina', OrgID: 1, OrgRole: 'Viewer' as const, Teams: [42] };
    expect((await api().get('/api/me').set(userHeaders(teamUser))).body.role).toBe('viewer');
    const rules = { grafanaOrgId: null, serverAdmin: 'owner', orgRoles: { Admin: 'admin', Editor: 'operator', Viewer: 'viewer', None: null }, teams: [{ teamId: 42, role: 'operator' }] };
    expect((await api().put('/api/role-rules').set(authHeaders('admin')).send(rules)).status).toBe(200);
    expect((await api().get('/api/me').set(userHeaders(teamUser))).body.role).toBe('operator');
    expect(await lastAudit()).toMatchObject({ action: 'role_rules.update', outcome: 'ok', actor_name: 'ada' });
    // A PUT replaces the whole mapping: a body that leaves a field out is refused, not defaulted
    // ({} would have reset it, and a body without teams dropped every team rule).
    const { teams: _teams, ...withoutTeams } = rules;
    for (const partial of [{}, withoutTeams, { ...rules, orgRoles: { Admin: 'admin' } }]) {
      const refused = await api().put('/api/role-rules').set(authHeaders('admin')).send(partial);
      expect([refused.status, refused.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    }
    expect((await api().get('/api/role-rules').set(authHeaders('admin'))).body.roleMapping).toEqual(rules);
    // An Admin cannot grant Owner through the mapping.
    const escalate = await api().put('/api/role-rules').set(authHeaders('admin')).send({ ...rules, orgRoles: { ...rules.orgRoles, Admin: 'owner' } });
    expect(escalate.status).toBe(403);
    expect(await lastAudit()).toMatchObject({ action: 'role_rules.update', outcome: 'refused' });
    // Bound to another organization: users of org 1 fall back to no role, members keep theirs.
    await api().put('/api/members/201').set(authHeaders('admin')).send({ login: 'tina', role: 'viewer' }).expect(201);
    // (Binding changes who the server-admin rule makes Owner: an Owner's call.)
    expect((await api().put('/api/role-rules').set(authHeaders('admin')).send({ ...rules, grafanaOrgId: 2 })).status).toBe(403);
    expect((await api().put('/api/role-rules').set(authHeaders('owner')).send({ ...rules, grafanaOrgId: 2 })).status).toBe(200);
    expect((await api().get('/api/me').set(authHeaders('operator'))).body.role).toBeNull();
    expect((await api().get('/api/me').set(userHeaders(teamUser))).body.role).toBe('viewer');
    // Nobody of org 1 holds a role through the mapping now (not even the server admin): reset it in the database.
    expect((await api().get('/api/me').set(authHeaders('owner'))).body.role).toBeNull();
    await db.query(`UPDATE projects SET role_mapping = NULL WHERE slug = 'default'`);
    expect((await api().get('/api/me').set(authHeaders('operator'))).body.role).toBe('operator');
    // A membership lowers a Grafana Admin to Viewer.
    await api().put(`/api/members/${TEST_USERS.admin.UserID}`).set(authHeaders('owner')).send({ login: 'ada', role: 'viewer' }).expect(201);
    expect((await api().get('/api/me').set(authHeaders('admin'))).body.role).toBe('viewer');
    expect((await api().get('/api/members').set(authHeaders('admin'))).status).toBe(403);
    await api().delete(`/api/members/${TEST_USERS.admin.UserID}`).set(authHeaders('owner')).expect(204);
    expect((await api().get('/api/me').set(authHeaders('admin'))).body.role).toBe('admin');
  });

  it('audits a failed project creation in the configured project, as its refusals are', async () => {
    const bad = await api().post('/api/projects').set(authHeaders('owner')).send({ slug: 'Not A Slug', name: 'x' });
    expect(bad.status).toBe(400);
    expect(await lastAudit()).toMatchObject({ action: 'project.create', outcome: 'refused', actor_name: 'olga' });
  });

  it('lets only an Owner grant or take away Owner', async () => {
    const res = await api().put('/api/members/300').set(authHeaders('admin')).send({ login: 'eve', role: 'owner' });
    expect(res.status).toBe(403);
    await api().put('/api/members/300').set(authHeaders('owner')).send({ login: 'eve', role: 'owner' }).expect(201);
    expect((await api().delete('/api/members/300').set(authHeaders('admin'))).status).toBe(403);
    expect((await api().put('/api/members/300').set(authHeaders('admin')).send({ login: 'eve', role: 'viewer' })).status).toBe(403);
    await api().delete('/api/members/300').set(authHeaders('owner')).expect(204);
    expect((await api().delete('/api/members/300').set(authHeaders('owner'))).body.error.code).toBe('MEMBER_NOT_FOUND');
  });

  it('keeps the Owners the mapping makes: an Admin demotes none through a membership or the mapping', async () => {
    const sam = { UserID: 106, Login: 'sam', OrgID: 1, OrgRole: 'Admin' as const, IsGrafanaAdmin: true };
    await api().put('/api/members/106').set(authHeaders('admin')).send({ login: 'sam', role: 'viewer' }).expect(201);
    expect((await api().get('/api/me').set(userHeaders(sam))).body.role).toBe('owner');
    // An Owner's membership does lower them.
    await api().put('/api/members/106').set(authHeaders('owner')).send({ login: 'sam', role: 'viewer' }).expect(200);
    expect((await api().get('/api/me').set(userHeaders(sam))).body.role).toBe('viewer');
    await api().delete('/api/members/106').set(authHeaders('owner')).expect(204);
    expect((await api().get('/api/me').set(userHeaders(sam))).body.role).toBe('owner');
    const rules = (await api().get('/api/role-rules').set(authHeaders('admin'))).body.roleMapping;
    const demote = await api().put('/api/role-rules').set(authHeaders('admin')).send({ ...rules, serverAdmin: 'viewer' });
    expect([demote.status, demote.body.error.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect((await api().get('/api/me').set(authHeaders('owner'))).body.role).toBe('owner');
    // Rules that leave the Owner grants as they are stay an Admin's call.
    expect((await api().put('/api/role-rules').set(authHeaders('admin')).send({ ...rules, orgRoles: { ...rules.orgRoles, Viewer: null } })).status).toBe(200);
    await api().put('/api/role-rules').set(authHeaders('admin')).send(rules).expect(200);
  });

  it("keeps an Owner's word: an Admin undoes no Owner's demotion or transfer, a token grants nothing, a demoted member's grants go", async () => {
    const sam = { UserID: 107, Login: 'sam2', Email: 'sam2@example.com', OrgID: 1, OrgRole: 'Admin' as const, IsGrafanaAdmin: true };
    await api().put('/api/members/107').set(authHeaders('owner')).send({ login: 'sam2', role: 'admin' }).expect(201);
    // Sam, a server admin the mapping makes Owner, rewrites or removes the row that holds him at Admin.
    await api().put('/api/members/107').set(userHeaders(sam)).send({ login: 'sam2', role: 'admin' }).expect(200);
    expect((await api().get('/api/me').set(userHeaders(sam))).body.role).toBe('admin');
    const removed = await api().delete('/api/members/107').set(userHeaders(sam));
    expect([removed.status, removed.body.error.code]).toEqual([403, 'OWNER_SET_MEMBERSHIP']);
    await api().put('/api/members/107').set(authHeaders('admin')).send({ login: 'sam2', role: 'viewer' }).expect(200);
    expect((await api().get('/api/me').set(userHeaders(sam))).body.role).toBe('viewer');
    expect((await api().delete('/api/members/107').set(authHeaders('admin'))).status).toBe(403);
    await api().delete('/api/members/107').set(authHeaders('owner')).expect(204);

    // A token grants nothing: no token, member, role rule or invitation comes from one.
    const t1 = (await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'ci-admin', role: 'admin' })).body;
    const t2 = (await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'ci-viewer', role: 'viewer' })).body;
    const rules = (await api().get('/api/role-rules').set(authHeaders('admin'))).body.roleMapping;
    for (const call of [
      api().post('/api/tokens').set(tokenHeaders(t1.secret)).send({ name: 'child', role: 'admin' }),
      api().put('/api/members/103').set(tokenHeaders(t1.secret)).send({ login: 'ada', role: 'admin' }),
      api().put('/api/role-rules').set(tokenHeaders(t1.secret)).send(rules),
      api().post('/api/invitations').set(tokenHeaders(t1.secret)).send({ email: 'x@example.com', role: 'viewer' }),
    ]) {
      const r = await call;
      expect([r.status, r.body.error.code]).toEqual([403, 'USER_REQUIRED']);
    }
    // A token from before makers were recorded names Ada by login only.
    const legacy = (await mintApiToken(db, { id: 1, roleMapping: DEFAULT_ROLE_MAPPING }, { name: 'old-admin', role: 'admin', expiresInDays: 1, createdBy: 'user:ada' }));
    // Ada is lowered to Operator: her Admin token acts as Operator (capped: tokenMakers.api.test.ts), her
    // Viewer token stays, and the old token, whose maker cannot be looked up, goes (audited).
    await api().put('/api/members/103').set(authHeaders('owner')).send({ login: 'ada', role: 'operator' }).expect(201);
    expect((await api().get('/api/tasks').set(tokenHeaders(t1.secret))).status).toBe(200);
    expect((await api().get('/api/tokens').set(tokenHeaders(t1.secret))).status).toBe(403);
    expect((await api().get('/api/tasks').set(tokenHeaders(t2.secret))).status).toBe(200);
    expect((await api().get('/api/tasks').set(tokenHeaders(legacy.secret))).body.error.code).toBe('TOKEN_REVOKED');
    const revoked = (await db.query<{ target: string; detail: Record<string, unknown> }>(
      `SELECT target, detail FROM audit_log WHERE action = 'token.revoke' AND target IN ($1, $2)`, [`token:${t1.token.id}`, `token:${legacy.token.id}`])).rows;
    expect(revoked).toEqual([{ target: `token:${legacy.token.id}`, detail: { name: 'old-admin', reason: 'its maker ada is now operator' } }]);
    const created = (await db.query<{ detail: { expiresAt: unknown } }>(`SELECT detail FROM audit_log WHERE action = 'token.create' AND target = $1`, [`token:${t2.token.id}`])).rows[0]!;
    expect(created.detail.expiresAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/)); // not {}
    await api().delete('/api/members/103').set(authHeaders('owner')).expect(204);
    for (const t of [t1, t2]) await api().delete(`/api/tokens/${t.token.id}`).set(authHeaders('admin')).expect(200);
  });

  it('changes a member\'s role without losing the email and name it was given', async () => {
    await api().put('/api/members/310').set(authHeaders('admin')).send({ login: 'max', email: 'max@example.com', name: 'Max M', role: 'viewer' }).expect(201);
    const changed = await api().put('/api/members/310').set(authHeaders('admin')).send({ login: 'max', role: 'operator' }).expect(200);
    expect(changed.body.member).toMatchObject({ login: 'max', email: 'max@example.com', name: 'Max M', role: 'operator' });
    // An address as Grafana keeps it, picked in the plugin's user search (Grafana's own admin).
    await api().put('/api/members/310').set(authHeaders('admin')).send({ login: 'max', email: 'admin@localhost', role: 'operator' }).expect(200);
    expect((await api().put('/api/members/310').set(authHeaders('admin')).send({ login: 'max', email: 'not an address', role: 'operator' })).status).toBe(400);
    const cleared = await api().put('/api/members/310').set(authHeaders('admin')).send({ login: 'max', email: null, role: 'operator' }).expect(200);
    expect(cleared.body.member).toMatchObject({ email: null, name: 'Max M' });
    await api().delete('/api/members/310').set(authHeaders('admin')).expect(204);
  });

  it('creates, lists, renames, transfers and deletes projects', async () => {
    expect((await api().post('/api/projects').set(authHeaders('admin')).send({ slug: 'billing', name: 'Billing' })).status).toBe(403);
    const created = await api().post('/api/projects').set(authHeaders('owner')).send({ slug: 'billing', name: 'Billing' });
    expect(created.status).toBe(201);
    expect((await api().post('/api/projects').set(authHeaders('owner')).send({ slug: 'billing', name: 'Again' })).body.error.code).toBe('PROJECT_EXISTS');
    expect((await api().get('/api/projects').set(authHeaders('owner'))).body.projects.map((p: { slug: string }) => p.slug)).toEqual(['billing', 'default']);
    await api().patch('/api/projects/billing').set(authHeaders('owner')).send({ name: 'Billing jobs' }).expect(200);
    // Transfer to Vera: she becomes Owner (membership), Olga becomes Admin of it.
    await api().post('/api/projects/billing/transfer').set(authHeaders('owner')).send({ userId: TEST_USERS.viewer.UserID, login: 'vera' }).expect(200);
    expect((await api().get('/api/me?project=billing').set(authHeaders('viewer'))).body.role).toBe('owner');
    expect((await api().get('/api/me?project=billing').set(authHeaders('owner'))).body.role).toBe('admin');
    // Vera, an Owner now, may create projects; a plain viewer elsewhere may not.
    expect((await api().post('/api/projects').set(authHeaders('viewer')).send({ slug: 'vera-s', name: 'Vera' })).status).toBe(201);
    expect((await api().delete('/api/projects/default').set(authHeaders('owner'))).body.error.code).toBe('PROJECT_IN_USE');
    expect((await api().delete('/api/projects/billing').set(authHeaders('owner'))).status).toBe(403);
    await api().delete('/api/projects/billing').set(authHeaders('viewer')).expect(204);
    expect((await api().get('/api/tasks?project=billing').set(authHeaders('owner'))).body.error.code).toBe('PROJECT_NOT_FOUND');
    // Its audit chain survives the deletion and verifies.
    const pid = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'billing'`)).rows[0]!.id;
    expect((await t.ctx.audit.verify(Number(pid))).ok).toBe(true);
    expect((await db.query(`SELECT action, outcome FROM audit_log WHERE project_id = $1 ORDER BY seq`, [pid])).rows.map((r) => `${r.action} ${r.outcome}`))
      .toEqual(['project.create ok', 'project.update ok', 'project.transfer ok', 'project.delete refused', 'project.delete ok']);
  });

  it("stops a deleted project's running bulk jobs: nothing acts for it afterwards", async () => {
    await api().post('/api/projects').set(authHeaders('owner')).send({ slug: 'doomed', name: 'Doomed' }).expect(201);
    const job = (await db.query<{ id: string }>(
      `INSERT INTO bulk_jobs (project_id, action, filters, as_of, state, total, requested_by, idempotency_key)
       SELECT id, 'retry', '{}'::jsonb, now(), 'running', 1, 'olga', 'doomed-job' FROM projects WHERE slug = 'doomed' RETURNING id::text AS id`,
    )).rows[0]!.id;
    await api().delete('/api/projects/doomed').set(authHeaders('owner')).expect(204);
    const claimed = await t.ctx.bulk.runOnce();
    const after = (await db.query<{ state: string }>('SELECT state FROM bulk_jobs WHERE id = $1', [job])).rows[0]!.state;
    expect({ claimed, after }).toEqual({ claimed: false, after: 'cancelled' });
    expect(await lastAudit()).toMatchObject({ action: 'project.delete', outcome: 'ok', detail: { bulkJobs: 1 } });
  });

  it('mints API tokens shown once, uses, lists and revokes them', async () => {
    const minted = await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'ci', role: 'operator', expiresInDays: 30 });
    expect(minted.status).toBe(201);
    const secret: string = minted.body.secret;
    expect(secret).toMatch(/^z4j_[A-Za-z0-9_-]{43}$/);
    expect((await api().get('/api/tasks').set(tokenHeaders(secret))).status).toBe(200);
    expect((await api().get('/api/me').set(tokenHeaders(secret))).body).toMatchObject({ role: 'operator', user: { name: 'ci' } });
    expect((await api().get('/api/members').set(tokenHeaders(secret))).status).toBe(403);
    const listed = await api().get('/api/tokens').set(authHeaders('admin'));
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(listed.body.tokens.find((x: { id: string }) => x.id === minted.body.token.id)).toMatchObject({ name: 'ci', role: 'operator', lastUsedAt: expect.any(String), revokedAt: null });
    expect((await db.query('SELECT count(*)::int AS n FROM api_tokens WHERE token_hash = $1', [Buffer.from(secret)])).rows[0]).toEqual({ n: 0 });
    // Not usable on another project; no token grants more than its minter holds.
    expect((await api().get('/api/tasks?project=vera-s').set(tokenHeaders(secret))).status).toBe(403);
    expect((await api().post('/api/tokens').set(tokenHeaders(secret)).send({ name: 'x', role: 'viewer' })).status).toBe(403);
    await api().delete(`/api/tokens/${minted.body.token.id}`).set(authHeaders('admin')).expect(200);
    const revoked = await api().get('/api/tasks').set(tokenHeaders(secret));
    expect([revoked.status, revoked.body.error.code]).toEqual([401, 'TOKEN_REVOKED']);
    expect(await lastAudit()).toMatchObject({ outcome: 'refused', actor_name: null, detail: { status: 401, code: 'TOKEN_REVOKED' } });
    const old = (await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'old', role: 'viewer' })).body;
    await db.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [old.token.id]);
    expect((await api().get('/api/tasks').set(tokenHeaders(old.secret))).body.error.code).toBe('TOKEN_EXPIRED');
  });

  it('mints agent credentials, rotates them with an overlap, and revocation bites within seconds', async () => {
    let now = Date.now();
    const replica = new DbAgentKeyStore(db, t.ctx.sealer, 5_000, () => now);
    const minted = await api().post('/api/agents').set(authHeaders('admin')).send({ name: 'worker-1' });
    expect(minted.status).toBe(201);
    const { agentId, secret } = minted.body;
    expect(await t.ctx.agentKeys.lookup(agentId)).toEqual({ agentId, project: 'default', secrets: [Buffer.from(secret)] });
    expect(JSON.stringify((await db.query('SELECT * FROM agent_secrets')).rows)).not.toContain(secret);
    expect(JSON.stringify((await api().get('/api/agents').set(authHeaders('admin'))).body)).not.toContain(secret);

    const rotated = await api().post(`/api/agents/${agentId}/rotate`).set(authHeaders('admin')).send({ overlapSeconds: 600 });
    expect(rotated.status).toBe(200);
    expect((await t.ctx.agentKeys.lookup(agentId))!.secrets).toEqual([Buffer.from(rotated.body.secret), Buffer.from(secret)]);
    expect(rotated.body.agent).toMatchObject({ liveSecrets: 2, overlapEndsAt: expect.any(String) });
    const again = await api().post(`/api/agents/${agentId}/rotate`).set(authHeaders('admin')).send({ overlapSeconds: 0 });
    expect((await t.ctx.agentKeys.lookup(agentId))!.secrets).toEqual([Buffer.from(again.body.secret)]);

    expect(await replica.lookup(agentId)).not.toBeNull();
    await api().delete(`/api/agents/${agentId}`).set(authHeaders('admin')).expect(200);
    expect(await t.ctx.agentKeys.lookup(agentId)).toBeNull(); // this replica: at once
    expect(await replica.lookup(agentId)).not.toBeNull(); // another replica: cached...
    now += 5_000;
    expect(await replica.lookup(agentId)).toBeNull(); // ...for at most 5 s
    expect((await api().post(`/api/agents/${agentId}/rotate`).set(authHeaders('admin')).send({})).body.error.code).toBe('AGENT_NOT_FOUND');
  });

  it('takes a secret rotated on another replica at once: the agent\'s first batches signed with it are not refused there', async () => {
    let now = Date.now();
    let queries = 0;
    const counted = Object.assign(Object.create(db) as Db, { query: (...a: Parameters<Db['query']>) => (queries++, db.query(...a)) });
    const replica = new DbAgentKeyStore(counted, t.ctx.sealer, 5_000, () => now);
    const { agentId, secret } = (await api().post('/api/agents').set(authHeaders('admin')).send({ name: 'worker-2' })).body;
    const batch = (nonce: string) => Buffer.from(JSON.stringify({ v: 1, agent: agentId, project: 'default', sentAt: Date.now(), nonce, events: [] }));
    const before = batch('00112233445566778899aabbccddeeff');
    expect(await verifyAgentBatch(before, agentId, signBatch(before, secret), replica)).toMatchObject({ ok: true }); // cached there, with this secret
    const rotated = await api().post(`/api/agents/${agentId}/rotate`).set(authHeaders('admin')).send({ overlapSeconds: 0 });
    const after = batch('ffeeddccbbaa99887766554433221100');
    now += AGENT_KEY_FRESH_MS; // the agent restarts with its new secret: seconds, not this
    expect(await verifyAgentBatch(after, agentId, signBatch(after, rotated.body.secret), replica)).toMatchObject({ ok: true });
    // Forged batches read the database at most once per AGENT_KEY_FRESH_MS, not once each.
    const queriesBefore = queries;
    for (let i = 0; i < 5; i++) {
      expect(await verifyAgentBatch(after, agentId, signBatch(after, 'not-its-secret-at-all'), replica)).toMatchObject({ ok: false, reason: 'bad_signature' });
    }
    expect(queries).toBe(queriesBefore);
  });

  it('keeps the static Z4J_AGENT_KEYS behind the database credentials', async () => {
    const withStatic = testApp(db, { config: { Z4J_AGENT_KEYS: ['boot-1@default:0123456789abcdef0123'] } });
    expect(await withStatic.ctx.agentKeys.lookup('boot-1')).toEqual({ agentId: 'boot-1', project: 'default', secrets: [Buffer.from('0123456789abcdef0123')] });
    expect(await withStatic.ctx.agentKeys.lookup('nobody')).toBeNull();
  });

  it('refuses a Viewer every write endpoint: 403, audited, nothing changed', async () => {
    const tables = ['projects', 'memberships', 'api_tokens', 'agents', 'agent_secrets', 'invitations'];
    const before = await Promise.all(tables.map(count));
    const writes: [string, string, object][] = [
      ['post', '/api/projects', { slug: 'evil', name: 'Evil' }],
      ['patch', '/api/projects/default', { name: 'Pwned' }],
      ['delete', '/api/projects/default', {}],
      ['post', '/api/projects/default/transfer', { userId: 101, login: 'vera' }],
      ['put', '/api/members/101', { login: 'vera', role: 'owner' }],
      ['delete', '/api/members/201', {}],
      ['put', '/api/role-rules', { orgRoles: { Viewer: 'owner' } }],
      ['post', '/api/invitations', { email: 'x@example.com', role: 'admin' }],
      ['delete', '/api/invitations/inv_x', {}],
      ['post', '/api/tokens', { name: 'x', role: 'admin' }],
      ['delete', '/api/tokens/tok_x', {}],
      ['post', '/api/agents', { name: 'x' }],
      ['post', '/api/agents/agt_x/rotate', {}],
      ['delete', '/api/agents/agt_x', {}],
      ['post', '/api/audit/rotate-key', {}],
    ];
    const viewer = { UserID: 150, Login: 'val', OrgID: 1, OrgRole: 'Viewer' as const };
    const auditBefore = await count('audit_log');
    for (const [method, path, body] of writes) {
      const res = await (api() as unknown as Record<string, (p: string) => request.Test>)[method]!(path).set(userHeaders(viewer)).send(body);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    expect(await Promise.all(tables.map(count))).toEqual(before);
    const refused = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor_name = 'val' AND outcome = 'refused'`)).rows[0]!.n;
    expect(refused).toBe(writes.length);
    expect(await count('audit_log')).toBe(auditBefore + writes.length);
  });

  it("audits a caller's refusals up to 30 a minute, counting the rest: nobody floods the chain", async () => {
    const outsider = { UserID: storage === 'postgres' ? 901 : 902, Login: `outsider-${storage}`, OrgID: 1, OrgRole: 'None' as const };
    for (let i = 0; i < 40; i++) expect((await api().get('/api/tasks').set(userHeaders(outsider))).status).toBe(403);
    const rows = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor_name = $1`, [outsider.Login])).rows[0]!.n;
    expect(rows).toBe(30);
    expect(await t.ctx.metrics.registry.getSingleMetricAsString('z4j_auth_refused_total')).toMatch(/status="403",code="ROLE_TOO_LOW",audited="no"} 10/);
  });

  it('audits the refused writes of routes of no project (create a project, accept an invitation) up to 30 a minute too', async () => {
    // A Grafana user with no role in any project: their refusals land in the configured project's chain.
    const outsider = { UserID: storage === 'postgres' ? 911 : 912, Login: `stranger-${storage}`, OrgID: 1, OrgRole: 'None' as const };
    for (let i = 0; i < 15; i++) {
      expect((await api().post('/api/projects').set(userHeaders(outsider)).send({ slug: 'Not A Slug' })).status).toBe(400);
      expect((await api().post('/api/projects').set(userHeaders(outsider)).send({ slug: `flood-${i}`, name: 'x' })).status).toBe(403);
      expect((await api().post('/api/invitations/accept').set(userHeaders(outsider)).send({ token: `z4ji_forged${i}` })).status).toBe(404);
    }
    const rows = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor_name = $1`, [outsider.Login])).rows[0]!.n;
    expect(rows).toBe(30);
  });

  it('answers oversized bodies with 413 and malformed JSON with 400, audited, changing nothing', async () => {
    const before = await count('api_tokens');
    const big = await api().post('/api/tokens').set(authHeaders('admin')).set('content-type', 'application/json').send(JSON.stringify({ name: 'x'.repeat(2_000_000), role: 'viewer' }));
    expect([big.status, big.body.error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(await lastAudit()).toMatchObject({ action: 'token.create', outcome: 'refused', detail: { status: 413 } });
    const bad = await api().post('/api/tokens').set(authHeaders('admin')).set('content-type', 'application/json').send('{"name": ');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'MALFORMED_JSON']);
    expect(await lastAudit()).toMatchObject({ action: 'token.create', outcome: 'refused', detail: { status: 400, code: 'MALFORMED_JSON' } });
    const invalid = await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'x', role: 'owner', extra: 1 });
    expect(invalid.status).toBe(400);
    expect(await count('api_tokens')).toBe(before);
    // Unauthenticated: 401 before the body is even read.
    expect((await api().post('/api/tokens').set('content-type', 'application/json').send('{"broken')).status).toBe(401);
  });

  it('treats SQL injection strings as plain text in every filter and parameter', async () => {
    const rowsBefore = await count('audit_log');
    for (const evil of ["' OR 1=1 --", "'; DROP TABLE audit_log; --", '%', "x' UNION SELECT mac FROM audit_log --"]) {
      for (const key of ['actor', 'action', 'target']) {
        const res = await api().get('/api/audit').set(authHeaders('admin')).query({ [key]: evil });
        expect({ key, status: res.status, n: res.body.entries?.length }).toEqual({ key, status: 200, n: 0 });
      }
      for (const key of ['outcome', 'from', 'cursor', 'project']) {
        expect((await api().get('/api/audit').set(authHeaders('admin')).query({ [key]: evil })).status).toBe(400);
      }
      expect((await api().delete(`/api/members/${encodeURIComponent(evil)}`).set(authHeaders('admin'))).status).toBe(400);
      expect((await api().delete(`/api/tokens/${encodeURIComponent(evil)}`).set(authHeaders('admin'))).status).toBe(400);
      expect((await api().get('/api/me').set(authHeaders()).query({ project: evil })).status).toBe(400);
    }
    expect(await count('audit_log')).toBeGreaterThanOrEqual(rowsBefore);
    expect((await t.ctx.audit.verify(1)).ok).toBe(true);
  });

  it('lists the audit log with filters and pages; verifies; rotates the key (Grafana server admin) and keeps verifying', async () => {
    for (const bad of ['from=9999999999999999', 'to=253402300800000', 'from=2026-02-30T00:00:00Z']) {
      const r = await api().get(`/api/audit?${bad}`).set(authHeaders('admin'));
      expect([bad, r.status, r.body.error.code]).toEqual([bad, 400, 'BAD_REQUEST']); // was a 500 (an invalid date handed to the database)
    }
    const page1 = await api().get('/api/audit').set(authHeaders('admin')).query({ action: 'token.*', limit: '2' });
    expect(page1.status).toBe(200);
    expect(page1.body.entries).toHaveLength(2);
    expect(page1.body.entries[0]).toMatchObject({ action: expect.stringMatching(/^token\./), actorKind: expect.any(String), requestId: expect.any(String), keyId: 1 });
    expect(page1.body.entries[0].mac).toBeUndefined();
    const page2 = await api().get('/api/audit').set(authHeaders('admin')).query({ action: 'token.*', limit: '2', cursor: page1.body.nextCursor });
    expect(page2.body.entries[0].seq).toBeLessThan(page1.body.entries[1].seq);
    const refused = await api().get('/api/audit').set(authHeaders('admin')).query({ outcome: 'refused', actor: 'val' });
    expect(refused.body.entries.length).toBeGreaterThan(0);
    expect((await api().get('/api/audit/verify').set(authHeaders('admin'))).body).toMatchObject({ ok: true, firstBroken: null });
    expect((await api().post('/api/audit/rotate-key').set(authHeaders('admin'))).status).toBe(403);
    const rotated = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
    expect(rotated.body).toMatchObject({ keyId: 2, previousKeyId: 1 });
    expect(await lastAudit()).toMatchObject({ action: 'audit.key.rotate', outcome: 'ok', detail: { from: 1, to: 2 } });
    await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'after-rotation', role: 'viewer' }).expect(201);
    expect((await api().get('/api/audit/verify').set(authHeaders('admin'))).body).toMatchObject({ ok: true });
    await db.exec(`ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET target = 'token:other' WHERE project_id = 1 AND action = 'token.revoke'; ALTER TABLE audit_log ENABLE TRIGGER USER;`);
    expect((await api().get('/api/audit/verify').set(authHeaders('admin'))).body).toMatchObject({ ok: false, firstBroken: { reason: expect.stringMatching(/MAC/) } });
  });
});
