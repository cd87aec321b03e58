// Invitations end to end with a real SMTP server: the Admin invites, the mail arrives, the
// invitee follows the link's token; reuse, expiry, revocation and the rate limit are refused.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { mailerFromConfig } from './mailer.js';
import { loadConfig } from '../config.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders, userHeaders } from '../../test/helpers/auth.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import { linkToken, startSmtp } from '../../test/helpers/smtp.js';


describe.each(STORAGES)('invitations on %s', (storage) => {
  let db: Db;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let app: ReturnType<typeof testApp>['app'];
  const invitee = { UserID: 500, Login: 'ivan', Name: 'Ivan Invitee', Email: 'ivan@example.com', OrgID: 1, OrgRole: 'None' as const };
  const stranger = { UserID: 501, Login: 'sam', OrgID: 1, OrgRole: 'None' as const };

  beforeAll(async () => {
    smtp = await startSmtp();
    db = await openTestDb(storage, 'invite');
    const config = { Z4J_SMTP_URL: smtp.url, Z4J_SMTP_FROM: 'z4j <z4j@example.com>', GRAFANA_URL: 'https://grafana.example.com/', Z4J_INVITATIONS_PER_HOUR: 5 };
    app = testApp(db, { config, mailer: mailerFromConfig(loadConfig({}, config)) }).app;
  });
  afterAll(async () => {
    await db?.close();
    await smtp?.close();
  });

  const invite = (email: string, role = 'operator', as = authHeaders('admin')) => request(app).post('/api/invitations').set(as).send({ email, role });
  const accept = (token: string, as: Record<string, string>) => request(app).post('/api/invitations/accept').set(as).send({ token });
  const audit = async () => (await db.query<{ action: string; outcome: string; code: string | null }>(
    `SELECT action, outcome, detail->>'code' AS code FROM audit_log WHERE action LIKE 'invitation.%' ORDER BY id`)).rows.map((r) => `${r.action} ${r.outcome}${r.code ? ` ${r.code}` : ''}`);

  it('mails a single-use link; the signed-in invitee accepts and becomes a member', async () => {
    const res = await invite('ivan@example.com');
    expect(res.status).toBe(201);
    expect(res.body.invitation).toMatchObject({ email: 'ivan@example.com', role: 'operator', status: 'pending' });
    expect(JSON.stringify(res.body)).not.toMatch(/z4ji_/);
    expect(smtp.inbox).toHaveLength(1);
    const mail = smtp.inbox[0]!;
    expect(mail.to).toEqual(['ivan@example.com']);
    expect(mail.from).toBe('z4j@example.com');
    const { link, token } = linkToken(mail);
    expect(link).toBe(`https://grafana.example.com/a/z4j-taskqueue-app/invitation?token=${token}`);
    expect(token.length).toBeGreaterThanOrEqual(5 + 43); // 256 bits
    expect((await db.query('SELECT count(*)::int AS n FROM invitations WHERE token_hash::text LIKE $1', [`%${token}%`])).rows[0]).toEqual({ n: 0 });

    expect((await request(app).get('/api/me').set(userHeaders(invitee))).body.role).toBeNull();
    const ok = await accept(token, userHeaders(invitee));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ project: { slug: 'default' }, role: 'operator' });
    expect((await request(app).get('/api/me').set(userHeaders(invitee))).body.role).toBe('operator');
    expect((await db.query('SELECT login, role, created_by FROM memberships WHERE user_id = 500')).rows).toEqual([{ login: 'ivan', role: 'operator', created_by: `invitation:${res.body.invitation.id}` }]);

    // Used once: the same link again, by anyone, is refused and audited.
    const reuse = await accept(token, userHeaders(stranger));
    expect([reuse.status, reuse.body.error.code]).toEqual([409, 'INVITATION_ALREADY_USED']);
    expect((await request(app).get('/api/me').set(userHeaders(stranger))).body.role).toBeNull();
    expect(await audit()).toEqual(['invitation.create ok', 'invitation.accept ok', 'invitation.accept refused INVITATION_ALREADY_USED']);
  });

  it("is for its address only, never raises a role an Owner set, and goes when its inviter's role does", async () => {
    const before = smtp.inbox.length;
    await invite('Kim@Example.com', 'admin').expect(201);
    const { token } = linkToken(smtp.inbox[before]!);
    // Someone else holding the link (a forward, the inviter) is not the invitee: refused, audited, usable still.
    const other = await accept(token, userHeaders({ ...stranger, Email: 'sam@example.com' }));
    expect([other.status, other.body.error.code]).toEqual([403, 'INVITATION_FOR_ANOTHER_EMAIL']);
    expect((await accept(token, authHeaders('admin'))).status).toBe(403);
    expect((await audit()).at(-1)).toBe('invitation.accept refused INVITATION_FOR_ANOTHER_EMAIL');
    // Kim already has a role an Owner set: the Admin's link does not raise it.
    const kim = { UserID: 520, Login: 'kim', Email: 'kim@example.com', OrgID: 1, OrgRole: 'None' as const };
    await request(app).put('/api/members/520').set(authHeaders('owner')).send({ login: 'kim', role: 'viewer' }).expect(201);
    expect((await accept(token, userHeaders(kim))).body).toEqual({ project: { slug: 'default' }, role: 'viewer' });

    // Ada's pending Admin invitation goes when an Owner lowers her to Operator; her Viewer one stays.
    const n = smtp.inbox.length;
    const high = (await invite('lee@example.com', 'admin')).body.invitation;
    const low = (await invite('lou@example.com', 'viewer')).body.invitation;
    await request(app).put('/api/members/103').set(authHeaders('owner')).send({ login: 'ada', role: 'operator' }).expect(201);
    const status = async (id: string) => (await db.query<{ revoked: boolean }>('SELECT revoked_at IS NOT NULL AS revoked FROM invitations WHERE id = $1', [id])).rows[0]!.revoked;
    expect([await status(high.id), await status(low.id)]).toEqual([true, false]);
    const lee = await accept(linkToken(smtp.inbox[n]!).token, userHeaders({ UserID: 521, Login: 'lee', Email: 'lee@example.com', OrgID: 1, OrgRole: 'None' }));
    expect(lee.body.error.code).toBe('INVITATION_REVOKED');
    await request(app).delete('/api/members/103').set(authHeaders('owner')).expect(204);
    await request(app).delete('/api/members/520').set(authHeaders('owner')).expect(204);
    await db.query(`DELETE FROM invitations WHERE email IN ('Kim@Example.com', 'lee@example.com', 'lou@example.com')`); // the other tests count theirs
  });

  it('never lowers the role the invitee has by the role mapping (an org Admin accepting a Viewer link stays Admin)', async () => {
    const before = smtp.inbox.length;
    const sent = (await invite('mia@example.com', 'viewer')).body.invitation;
    const mia = { UserID: 530, Login: 'mia', Email: 'mia@example.com', OrgID: 1, OrgRole: 'Admin' as const };
    expect((await request(app).get('/api/me').set(userHeaders(mia))).body.role).toBe('admin');
    const ok = await accept(linkToken(smtp.inbox[before]!).token, userHeaders(mia));
    expect([ok.status, ok.body]).toEqual([200, { project: { slug: 'default' }, role: 'admin' }]);
    expect((await request(app).get('/api/me').set(userHeaders(mia))).body.role).toBe('admin');
    // No membership pins her: the mapping keeps deciding (a lower Grafana role later lowers her).
    expect((await db.query('SELECT role FROM memberships WHERE user_id = 530')).rows).toEqual([]);
    expect((await db.query<{ status: string }>(`SELECT CASE WHEN accepted_at IS NULL THEN 'pending' ELSE 'accepted' END AS status FROM invitations WHERE id = $1`, [sent.id])).rows).toEqual([{ status: 'accepted' }]);
    expect((await db.query(`SELECT detail FROM audit_log WHERE action = 'invitation.accept' ORDER BY id DESC LIMIT 1`)).rows[0]).toEqual({
      detail: { invited: 'mia@example.com', email: 'mia@example.com', role: 'admin', invitedAs: 'viewer' },
    });
    await db.query(`DELETE FROM invitations WHERE id = $1`, [sent.id]); // the other tests count theirs
  });

  it('refuses revoked, expired and unknown links with clear codes', async () => {
    const revokeMe = (await invite('r@example.com', 'viewer')).body.invitation;
    const revokeToken = linkToken(smtp.inbox.at(-1)!).token;
    await request(app).delete(`/api/invitations/${revokeMe.id}`).set(authHeaders('admin')).expect(200);
    expect((await accept(revokeToken, userHeaders(stranger))).body.error.code).toBe('INVITATION_REVOKED');

    const expireMe = (await invite('e@example.com', 'viewer')).body.invitation;
    const expireToken = linkToken(smtp.inbox.at(-1)!).token;
    await db.query(`UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, [expireMe.id]);
    const expired = await accept(expireToken, userHeaders(stranger));
    expect([expired.status, expired.body.error.code]).toEqual([410, 'INVITATION_EXPIRED']);

    expect((await accept(`${revokeToken.slice(0, -2)}xx`, userHeaders(stranger))).body.error.code).toBe('INVITATION_INVALID');
    expect((await accept('not-a-token', userHeaders(stranger))).status).toBe(404);
    expect((await request(app).get('/api/me').set(userHeaders(stranger))).body.role).toBeNull();
    const listed = (await request(app).get('/api/invitations').set(authHeaders('admin'))).body.invitations;
    expect(listed.map((i: { email: string; status: string }) => `${i.email} ${i.status}`).sort()).toEqual(['e@example.com expired', 'ivan@example.com accepted', 'r@example.com revoked']);
  });

  it('lets nobody invite above their own role, and API tokens cannot accept', async () => {
    expect((await invite('o@example.com', 'owner')).status).toBe(403);
    expect((await invite('o@example.com', 'viewer', authHeaders('operator'))).status).toBe(403);
    const minted = await request(app).post('/api/tokens').set(authHeaders('admin')).send({ name: 'bot', role: 'viewer' });
    expect((await accept('z4ji_x', { authorization: `Bearer ${minted.body.secret}` })).body.error.code).toBe('USER_REQUIRED');
  });

  it('rate limits invitations per project and inviter', async () => {
    const sent = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM invitations WHERE invited_by = 'user:ada'`)).rows[0]!.n;
    for (let i = sent; i < 5; i++) expect((await invite(`bulk${i}@example.com`, 'viewer')).status).toBe(201);
    const limited = await invite('one-more@example.com', 'viewer');
    expect([limited.status, limited.body.error.code]).toEqual([429, 'RATE_LIMITED']);
    expect((await audit()).at(-1)).toBe('invitation.create refused RATE_LIMITED');
    // Another inviter is not limited by Ada's invitations.
    expect((await invite('other@example.com', 'viewer', authHeaders('owner'))).status).toBe(201);
  });

  it('revokes the invitation when the mail cannot be sent', async () => {
    const broken = testApp(db, { config: { Z4J_SMTP_URL: 'smtp://127.0.0.1:1' }, mailer: mailerFromConfig(loadConfig({}, { Z4J_SMTP_URL: 'smtp://127.0.0.1:1' })) }).app;
    const res = await request(broken).post('/api/invitations').set(authHeaders('owner')).send({ email: 'lost@example.com', role: 'viewer' });
    expect([res.status, res.body.error.code]).toEqual([502, 'MAIL_FAILED']);
    expect((await db.query(`SELECT revoked_at IS NOT NULL AS revoked FROM invitations WHERE email = 'lost@example.com'`)).rows).toEqual([{ revoked: true }]);
    const noSmtp = testApp(db).app;
    expect((await request(noSmtp).post('/api/invitations').set(authHeaders('admin')).send({ email: 'x@example.com', role: 'viewer' })).body.error.code).toBe('SMTP_NOT_CONFIGURED');
  });
});
