// Rotating the audit key through the API, past the first thousand keys and at the last id the
// database takes: the key file must still load at the next start, and the end is a clear 409.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { AuditKeyRing, formatAuditKeys, parseAuditKeys, type AuditKey } from './keys.js';

/** An API whose audit keys live in a key file holding `keys`, for `run`. */
async function withKeyFile(keys: AuditKey[], run: (api: () => request.Agent, file: string) => Promise<void>): Promise<void> {
  const db = await openTestDb('pglite', 'rotate_key');
  const dir = mkdtempSync(join(tmpdir(), 'z4j-keys-'));
  const file = join(dir, 'audit.key');
  writeFileSync(file, formatAuditKeys(keys));
  try {
    const t = testApp(db, { auditKeys: new AuditKeyRing(keys, file) });
    await run(() => request.agent(t.app), file);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('POST /api/audit/rotate-key', () => {
  it('rotates past key 999, and the key file still loads', () =>
    withKeyFile([{ id: 999, key: randomBytes(32) }], async (api, file) => {
      const rotated = await api().post('/api/audit/rotate-key').set(authHeaders('owner'));
      expect([rotated.status, rotated.body]).toEqual([200, { keyId: 1000, previousKeyId: null }]);
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
});
