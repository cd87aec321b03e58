// Forged and spoofed identities against a service configured with GRAFANA_URL: a fake
// Grafana serves its JWKS; tokens are signed by its key, by another key, expired, for
// another audience, unsigned, HMAC'd, or naming someone other than the context.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import request from 'supertest';
import type { Db } from '../db/db.js';
import { testApp } from '../../test/helpers/api.js';
import { TEST_PROXY_SECRET, TEST_USERS, userHeaders, type TestUser } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { IdTokenVerifier } from './grafana.js';

type Key = { kid: string; privateKey: CryptoKey; jwk: JWK };

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey: privateKey as CryptoKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('Grafana ID tokens (GRAFANA_URL set)', () => {
  let db: Db;
  let server: Server;
  let grafana: string;
  let published: Key[];
  let fetches = 0;
  let key: Key;
  let app: ReturnType<typeof testApp>['app'];

  beforeAll(async () => {
    key = await newKey('k1');
    published = [key];
    server = createServer((req, res) => {
      if (req.url !== '/api/signing-keys/keys') return void res.writeHead(404).end();
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    grafana = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    db = await openTestDb('pglite', 'idtoken');
    app = testApp(db, { config: { GRAFANA_URL: grafana }, idTokens: new IdTokenVerifier({ grafanaUrl: grafana, cooldownMs: 0 }) }).app;
  });
  afterAll(async () => {
    await db?.close();
    await new Promise((r) => server.close(r));
  });

  const user = TEST_USERS.admin;
  const claimsOf = (u: TestUser) => ({ sub: `user:${u.UserID}`, aud: [`org:${u.OrgID}`], username: u.Login, email: u.Email, role: u.OrgRole });

  async function token(over: Record<string, unknown> = {}, opts: { with?: Key; exp?: number | string; iss?: string } = {}): Promise<string> {
    const k = opts.with ?? key;
    return new SignJWT({ ...claimsOf(user), ...over })
      .setProtectedHeader({ alg: 'ES256', kid: k.kid, typ: 'jwt' })
      .setIssuer(opts.iss ?? `${grafana}/`)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '10m')
      .sign(k.privateKey);
  }

  const me = (headers: Record<string, string>) => request(app).get('/api/me').set(headers);
  const as = (idToken: string | null, u: TestUser = user) => ({ ...userHeaders(u), ...(idToken ? { 'x-grafana-id': idToken } : {}) });

  it('accepts a token that Grafana signed for the user of the context', async () => {
    const res = await me(as(await token()));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { login: 'ada' }, role: 'admin', grafanaRole: 'Admin' });
  });

  it.each<[string, () => Promise<Record<string, string>>, string]>([
    ['no token', async () => as(null), 'ID_TOKEN_MISSING'],
    ['a token signed by another key under the same key id', async () => as(await token({}, { with: { ...(await newKey('k1')) } })), 'ID_TOKEN_INVALID'],
    ['a token signed by a key Grafana never published', async () => as(await token({}, { with: await newKey('rogue') })), 'ID_TOKEN_INVALID'],
    ['an expired token', async () => as(await token({}, { exp: Math.floor(Date.now() / 1000) - 60 })), 'ID_TOKEN_INVALID'],
    ['a token for another organization', async () => as(await token({ aud: ['org:2'] })), 'ID_TOKEN_MISMATCH'],
    ['a token from another issuer', async () => as(await token({}, { iss: 'https://evil.example.com/' })), 'ID_TOKEN_INVALID'],
    ['an unsigned token (alg none)', async () => as(`${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claimsOf(user), iss: `${grafana}/`, exp: Math.floor(Date.now() / 1000) + 600 })}.`), 'ID_TOKEN_INVALID'],
    ['an HS256 token keyed with the public key', async () => {
      const hs = await new SignJWT({ ...claimsOf(user) }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(`${grafana}/`).setExpirationTime('10m')
        .sign(new TextEncoder().encode(JSON.stringify(key.jwk)));
      return as(hs);
    }, 'ID_TOKEN_INVALID'],
    ['garbage', async () => as('not.a.jwt'), 'ID_TOKEN_INVALID'],
    ["someone else's valid token next to this context", async () => as(await token({ sub: 'user:999', username: 'mallory' })), 'ID_TOKEN_MISMATCH'],
    ['a context claiming another organization', async () => as(await token(), { ...user, OrgID: 2 }), 'ID_TOKEN_MISMATCH'],
    ['a context claiming a higher Grafana role than the token', async () => as(await token({ role: 'Viewer' })), 'ID_TOKEN_MISMATCH'],
    ['a valid token with the wrong proxy secret', async () => ({ ...as(await token()), 'x-z4j-proxy-secret': 'nope-nope-nope-nope' }), 'PROXY_SECRET_WRONG'],
  ])('refuses %s with 401, audited', async (_label, headers, code) => {
    const before = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE outcome = 'refused' AND detail->>'code' = $1`, [code])).rows[0]!.n;
    const res = await me(await headers());
    expect([res.status, res.body.error.code]).toEqual([401, code]);
    const after = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE outcome = 'refused' AND detail->>'code' = $1`, [code])).rows[0]!.n;
    expect(after).toBe(before + 1);
  });

  it("follows Grafana's key rotation: a token with a new key id refetches the JWKS", async () => {
    const k2 = await newKey('k2');
    const before = fetches;
    expect((await me(as(await token({}, { with: k2 })))).status).toBe(401);
    published = [key, k2];
    expect((await me(as(await token({}, { with: k2 })))).status).toBe(200);
    expect(fetches).toBeGreaterThan(before);
    const cached = fetches;
    expect((await me(as(await token()))).status).toBe(200);
    expect(fetches).toBe(cached); // known key ids do not refetch
  });

  it('on the datasource proxy, trusts only the token (a forged context is ignored)', async () => {
    const editor = TEST_USERS.operator;
    const idToken = await new SignJWT(claimsOf(editor)).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(`${grafana}/`).setExpirationTime('10m').sign(key.privateKey);
    const forged = JSON.stringify({ UserID: editor.UserID, Login: 'otto', OrgID: 1, OrgRole: 'Admin', IsGrafanaAdmin: true });
    const res = await me({ 'x-z4j-proxy-secret': TEST_PROXY_SECRET, 'x-z4j-via': 'datasource', 'x-grafana-id': idToken, 'x-grafana-context': forged });
    expect(res.body).toMatchObject({ role: 'operator', isGrafanaAdmin: false, user: { login: 'otto' } });
    expect((await me({ 'x-z4j-proxy-secret': TEST_PROXY_SECRET, 'x-z4j-via': 'datasource' })).body.error.code).toBe('ID_TOKEN_MISSING');
  });
});
