// Rotating the audit key through the API. The key ring MACs every project's chain, so only a
// Grafana server admin rotates it, at most once an hour, and every project's chain records it.
// Past the first thousand keys the key file still loads; at the last id the database takes, a 409.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import type { Db } from '../db/db.js';
import { AuditKeyRing, formatAuditKeys, parseAuditKeys, type AuditKey } from './keys.js';

/** An API whose audit keys live in a key file holding `keys`, for `run`. */
async function withKeyFile(keys: AuditKey[], run: (api: () => request.Agent, file: string, db: Db) => Promise<void>, inFile = true): Promise<void> {
  const db = await openTestDb('pglite', 'rotate_key');
  const dir = mkdtempSync(join(tmpdir(), 'z4j-keys-'));
  const file = join(dir, 'audit.key');
  writeFileSync(file, formatAuditKeys(keys));
  try {
    const t = testApp(db, { auditKeys: new AuditKeyRing(keys, inFile ? file : null) });
    await run(() => request.agent(t.app), file, db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('POST /api/audit/rotate-key', () => {
  it('rotates past key 999, and the key file still loads', () =>
    withKeyFile([{ id: 999, key: randomBytes(32) }], async (api, file) => {
      const rotated = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([rotated.status, rotated.body]).toEqual([200, { keyId: 1000, previousKeyId: 999, projects: 1 }]);
      expect(new AuditKeyRing(parseAuditKeys(readFileSync(file, 'utf8'))!).ids).toEqual([999, 1000]);
      await api().post('/api/tokens').set(authHeaders('admin')).send({ name: 'after-rotation', role: 'viewer' }).expect(201);
      expect((await api().get('/api/audit/verify').set(authHeaders('admin'))).body).toMatchObject({ ok: true });
    }));

  it('answers 409 once key ids are used up, and changes nothing', () =>
    withKeyFile([{ id: 2 ** 31 - 1, key: randomBytes(32) }], async (api, file) => {
      const before = readFileSync(file, 'utf8');
      const refused = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([refused.status, refused.body.error.code]).toEqual([409, 'AUDIT_KEY_IDS_USED_UP']);
      expect(readFileSync(file, 'utf8')).toBe(before);
    }));

  it("counts another replica's rotation (a shared key file) and refuses a file that lost the service's keys", () =>
    withKeyFile([{ id: 1, key: randomBytes(32) }], async (api, file) => {
      // Another replica rotated: the file holds key 2, which this service has not read yet.
      const other = new AuditKeyRing(parseAuditKeys(readFileSync(file, 'utf8'))!, file);
      other.rotate();
      const rotated = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([rotated.status, rotated.body]).toEqual([200, { keyId: 3, previousKeyId: 2, projects: 1 }]);
      expect(parseAuditKeys(readFileSync(file, 'utf8'))!.map((k) => k.id)).toEqual([1, 2, 3]);
      writeFileSync(file, formatAuditKeys([{ id: 7, key: randomBytes(32) }])); // replaced, the keys in use gone
      const refused = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([refused.status, refused.body.error.code]).toEqual([409, 'AUDIT_KEY_FILE_CHANGED']);
      expect(parseAuditKeys(readFileSync(file, 'utf8'))!.map((k) => k.id)).toEqual([7]);
    }));

  const rotations = async (db: Db) => (await db.query<{ project: string; detail: unknown }>(
    `SELECT p.slug AS project, l.detail FROM audit_log l JOIN projects p ON p.id = l.project_id WHERE l.action = 'audit.key.rotate' AND l.outcome = 'ok' ORDER BY p.slug`,
  )).rows;

  it("refuses a project's Owner who is not a Grafana server admin, audited, and changes nothing", () =>
    withKeyFile([{ id: 1, key: randomBytes(32) }], async (api, file, db) => {
      // Ada is an org Admin made Owner of the project by a membership: she owns one project, not the service's key.
      await db.query(`INSERT INTO memberships (project_id, user_id, login, role, created_by, set_by_owner) VALUES (1, 103, 'ada', 'owner', 'user:olga', true)`);
      expect((await api().get('/api/me').set(authHeaders('admin'))).body.role).toBe('owner');
      const refused = await api().post('/api/audit/rotate-key').set(authHeaders('admin'));
      expect([refused.status, refused.body.error.code, refused.body.error.message]).toEqual([403, 'ROLE_TOO_LOW', expect.stringMatching(/Grafana server admin/)]);
      expect(readFileSync(file, 'utf8')).toBe(formatAuditKeys([{ id: 1, key: parseAuditKeys(readFileSync(file, 'utf8'))![0]!.key }]));
      const audited = (await db.query('SELECT action, outcome, actor_name FROM audit_log ORDER BY id DESC LIMIT 1')).rows[0];
      expect(audited).toEqual({ action: 'audit.key.rotate', outcome: 'refused', actor_name: 'ada' });
      expect(await rotations(db)).toEqual([]);
    }));

  it("is recorded in every live project's chain, each verifying with the new key", () =>
    withKeyFile([{ id: 1, key: randomBytes(32) }], async (api, _file, db) => {
      await api().post('/api/projects').set(authHeaders('owner')).send({ slug: 'payments', name: 'Payments' }).expect(201);
      const rotated = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect(rotated.body).toEqual({ keyId: 2, previousKeyId: 1, projects: 2 });
      // `from`: the key the chain's last row names (none yet in default's: its first row is this one).
      expect(await rotations(db)).toEqual([{ project: 'default', detail: { from: null, to: 2 } }, { project: 'payments', detail: { from: 1, to: 2 } }]);
      for (const project of ['default', 'payments']) {
        expect((await api().get('/api/audit/verify').query({ project }).set(authHeaders('owner'))).body).toMatchObject({ ok: true });
      }
    }));

  it('waits an hour between rotations: 429 with Retry-After, then it rotates again', () =>
    withKeyFile([{ id: 1, key: randomBytes(32) }], async (api, file, db) => {
      await api().post('/api/audit/rotate-key').set(authHeaders('owner')).expect(200);
      const again = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([again.status, again.body.error.code]).toEqual([429, 'AUDIT_KEY_ROTATED_RECENTLY']);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(3500);
      expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(3600);
      expect(new AuditKeyRing(parseAuditKeys(readFileSync(file, 'utf8'))!).ids).toEqual([1, 2]); // no key added by the refusal
      expect((await db.query(`SELECT outcome, detail FROM audit_log ORDER BY id DESC LIMIT 1`)).rows[0]).toEqual({ outcome: 'refused', detail: { status: 429, code: 'AUDIT_KEY_ROTATED_RECENTLY' } });

      await db.query(`UPDATE audit_key_rotations SET rotated_at = rotated_at - interval '61 minutes'`);
      expect((await api().post('/api/audit/rotate-key').set(authHeaders('owner'))).body).toEqual({ keyId: 3, previousKeyId: 2, projects: 1 });
    }));

  it('with Z4J_AUDIT_KEYS, records a new key once, and says to add one when there is none', () =>
    withKeyFile([{ id: 1, key: randomBytes(32) }, { id: 2, key: randomBytes(32) }], async (api, _file, db) => {
      const recorded = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect(recorded.body).toEqual({ keyId: 2, previousKeyId: 1, projects: 1 });
      await db.query(`UPDATE audit_key_rotations SET rotated_at = rotated_at - interval '2 hours'`);
      const twice = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([twice.status, twice.body.error.code]).toEqual([409, 'AUDIT_KEY_NOT_NEW']);
    }, false));

  it('refuses an API token, even one minted by a server admin', () =>
    withKeyFile([{ id: 1, key: randomBytes(32) }], async (api) => {
      const minted = await api().post('/api/tokens').set(authHeaders('owner')).send({ name: 'ci', role: 'admin' });
      const refused = await api().post('/api/audit/rotate-key').set({ authorization: `Bearer ${minted.body.secret}` });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'USER_REQUIRED']);
    }));
});
