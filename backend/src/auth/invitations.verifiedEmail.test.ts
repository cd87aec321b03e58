// Z4J_INVITATIONS_VERIFIED_EMAIL: an invitation is accepted only by a Grafana user whose email
// Grafana verified, as its signed ID token says. A user who set their own Grafana email to the
// invited address (a forwarded or leaked link in hand) does not get in.
import { generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import type { Db } from '../db/db.js';
import { testApp } from '../../test/helpers/api.js';
import { TEST_USERS, userHeaders, type TestUser } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { IdTokenVerifier } from './grafana.js';
import type { Mail } from './mailer.js';
import { loadConfig, ConfigError } from '../config.js';

const GRAFANA = 'https://grafana.example.com';

describe('invitations with Z4J_INVITATIONS_VERIFIED_EMAIL', () => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];
  let sign: (u: TestUser, over?: Record<string, unknown>) => Promise<string>;
  const inbox: Mail[] = [];

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    sign = (u, over = {}) => new SignJWT({ sub: `user:${u.UserID}`, aud: [`org:${u.OrgID}`], username: u.Login, email: u.Email, role: u.OrgRole, ...over })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(`${GRAFANA}/`).setIssuedAt().setExpirationTime('10m').sign(privateKey);
    db = await openTestDb('pglite', 'invite_verified');
    app = testApp(db, {
      config: { GRAFANA_URL: GRAFANA, Z4J_SMTP_URL: 'smtp://unused', Z4J_INVITATIONS_VERIFIED_EMAIL: true },
      idTokens: new IdTokenVerifier({ grafanaUrl: GRAFANA, jwks: async () => publicKey }),
      mailer: { send: async (m) => void inbox.push(m) },
    }).app;
  });
  afterAll(() => db?.close());

  const as = async (u: TestUser, claims: Record<string, unknown> = {}) => ({ ...userHeaders(u), 'x-grafana-id': await sign(u, claims) });
  const invite = async (email: string) => {
    await request(app).post('/api/invitations').set(await as(TEST_USERS.admin)).send({ email, role: 'operator' }).expect(201);
    return /token=(z4ji_[A-Za-z0-9_-]+)/.exec(inbox.at(-1)!.text)![1]!;
  };
  const accept = async (token: string, headers: Record<string, string>) => request(app).post('/api/invitations/accept').set(headers).send({ token });

  it('refuses a user whose address Grafana did not verify, even when it is the invited one', async () => {
    const token = await invite('new.hire@example.com');
    // Mallory set her Grafana profile's email to the invitee's: Grafana signs it, unverified.
    const mallory = { UserID: 610, Login: 'mallory', Email: 'new.hire@example.com', OrgID: 1, OrgRole: 'Viewer' as const };
    const refused = await accept(token, await as(mallory));
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'INVITATION_EMAIL_UNVERIFIED']);
    expect((await accept(token, await as(mallory, { email_verified: false }))).status).toBe(403);
    expect((await request(app).get('/api/me').set(await as(mallory))).body.role).toBe('viewer');
    // The invitee, whose address Grafana verified, accepts the same link.
    const hire = { UserID: 611, Login: 'hire', Email: 'new.hire@example.com', OrgID: 1, OrgRole: 'None' as const };
    const ok = await accept(token, await as(hire, { email_verified: true }));
    expect([ok.status, ok.body]).toEqual([200, { project: { slug: 'default' }, role: 'operator' }]);
  });

  it('compares the address the signed ID token verified, not the one X-Grafana-Context claims', async () => {
    const token = await invite('second.hire@example.com');
    const eve = { UserID: 612, Login: 'eve', Email: 'second.hire@example.com', OrgID: 1, OrgRole: 'None' as const };
    const refused = await accept(token, await as(eve, { email: 'eve@example.com', email_verified: true }));
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'INVITATION_FOR_ANOTHER_EMAIL']);
  });

  it('records the verified address in the membership and the audit row, not the one X-Grafana-Context claims', async () => {
    const token = await invite('third.hire@example.com');
    // Grafana signs the address it verified; the context carries whatever the profile says now.
    const hire = { UserID: 613, Login: 'third', Email: 'typo@example.con', OrgID: 1, OrgRole: 'None' as const };
    const ok = await accept(token, await as(hire, { email: 'third.hire@example.com', email_verified: true }));
    expect(ok.status).toBe(200);
    const member = (await db.query<{ email: string }>('SELECT email FROM memberships WHERE user_id = 613')).rows;
    expect(member).toEqual([{ email: 'third.hire@example.com' }]);
    const audited = (await db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM audit_log WHERE action = 'invitation.accept' AND outcome = 'ok' ORDER BY id DESC LIMIT 1`)).rows[0]!;
    expect(audited.detail).toMatchObject({ invited: 'third.hire@example.com', email: 'third.hire@example.com' });
  });

  it('needs GRAFANA_URL: without ID tokens nothing says which emails Grafana verified', () => {
    expect(() => loadConfig({ Z4J_INVITATIONS_VERIFIED_EMAIL: 'true' })).toThrow(ConfigError);
    expect(loadConfig({ Z4J_INVITATIONS_VERIFIED_EMAIL: 'true', GRAFANA_URL: GRAFANA }).Z4J_INVITATIONS_VERIFIED_EMAIL).toBe(true);
  });
});
