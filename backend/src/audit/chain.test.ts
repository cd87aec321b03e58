import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../db/db.js';
import { loadConfig } from '../config.js';
import { STORAGES, openTestDb, createTestDatabase } from '../../test/helpers/storage.js';
import { AuditLog, type AuditEntry } from './chain.js';
import { AuditKeyRing, formatAuditKeys, parseAuditKeys } from './keys.js';
import { auditVerify } from './verifyCommand.js';

const entry = (i: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
  projectId: 1,
  actor: { kind: 'user', id: String(100 + (i % 3)), name: ['vera', 'otto', 'ada'][i % 3]! },
  action: i % 2 ? 'member.add' : 'token.create',
  target: `thing:${i}`,
  outcome: 'ok',
  detail: { i, nested: { b: [1, 'two', null], a: true } },
  ip: '127.0.0.1',
  requestId: `req-${i}`,
  ...over,
});

/** Runs `sql` as a superuser would: with the append-only triggers switched off. */
async function tamper(db: Db, sql: string): Promise<void> {
  await db.exec(`ALTER TABLE audit_log DISABLE TRIGGER USER; ${sql}; ALTER TABLE audit_log ENABLE TRIGGER USER;`);
}

describe.each(STORAGES)('the audit chain on %s', (storage) => {
  let db: Db;
  let keys: AuditKeyRing;
  let audit: AuditLog;

  beforeEach(async () => {
    db = await openTestDb(storage, 'audit');
    keys = new AuditKeyRing([{ id: 1, key: randomBytes(32) }]);
    audit = new AuditLog(db, keys);
    for (let i = 1; i <= 10; i++) await audit.append(entry(i));
  });
  afterEach(async () => {
    await db?.close();
  });

  it('verifies an untouched chain', async () => {
    expect(await audit.verify(1)).toEqual({ ok: true, checked: 10, lastSeq: 10, prunedThroughSeq: 0, firstBroken: null });
  });

  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    await expect(db.query(`UPDATE audit_log SET action = 'x' WHERE seq = 3`)).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM audit_log WHERE seq = 3`)).rejects.toThrow(/append-only/);
    await expect(db.exec(`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    expect((await audit.verify(1)).ok).toBe(true);
  });

  it('detects an edited field', async () => {
    await tamper(db, `UPDATE audit_log SET outcome = 'refused' WHERE project_id = 1 AND seq = 4`);
    expect((await audit.verify(1)).firstBroken).toMatchObject({ seq: 4, reason: expect.stringMatching(/MAC/) });
  });

  it('detects an edited detail (inside the JSON)', async () => {
    await tamper(db, `UPDATE audit_log SET detail = jsonb_set(detail, '{i}', '99') WHERE project_id = 1 AND seq = 7`);
    expect((await audit.verify(1)).firstBroken?.seq).toBe(7);
  });

  it('detects a deleted row', async () => {
    await tamper(db, `DELETE FROM audit_log WHERE project_id = 1 AND seq = 5`);
    expect((await audit.verify(1)).firstBroken).toMatchObject({ seq: 5, reason: expect.stringMatching(/missing/) });
  });

  it('detects two swapped rows', async () => {
    await tamper(db, `UPDATE audit_log SET seq = -3 WHERE project_id = 1 AND seq = 3;
      UPDATE audit_log SET seq = 3 WHERE project_id = 1 AND seq = 6; UPDATE audit_log SET seq = 6 WHERE project_id = 1 AND seq = -3`);
    expect((await audit.verify(1)).firstBroken?.seq).toBe(3);
  });

  it('detects a truncated tail', async () => {
    await tamper(db, `DELETE FROM audit_log WHERE project_id = 1 AND seq >= 8`);
    expect((await audit.verify(1)).firstBroken).toMatchObject({ seq: 8, reason: expect.stringMatching(/truncated/) });
  });

  it('detects a truncated tail whose chain head was rewritten without the key', async () => {
    await tamper(db, `DELETE FROM audit_log WHERE project_id = 1 AND seq >= 8`);
    await db.query(`UPDATE audit_chain SET last_seq = 7, last_mac = (SELECT mac FROM audit_log WHERE project_id = 1 AND seq = 7) WHERE project_id = 1`);
    expect((await audit.verify(1)).firstBroken?.reason).toMatch(/chain head/);
  });

  it('detects a row forged without the key, appended or replacing one', async () => {
    const forge = (seq: number) => `INSERT INTO audit_log (project_id, seq, at, actor_kind, actor_id, actor_name, action, target, outcome, key_id, mac)
      VALUES (1, ${seq}, now(), 'user', '1', 'mallory', 'member.add', 'user:666', 'ok', 1, '\\x${randomBytes(32).toString('hex')}')`;
    await db.exec(forge(11));
    expect((await audit.verify(1)).firstBroken?.reason).toMatch(/beyond the chain head/);
    await tamper(db, `DELETE FROM audit_log WHERE project_id = 1 AND seq IN (2, 11); ${forge(2)}`);
    expect((await audit.verify(1)).firstBroken).toMatchObject({ seq: 2, reason: expect.stringMatching(/MAC/) });
  });

  it('keeps verifying across a key rotation, and flags a row whose key is gone', async () => {
    const rotated = new AuditKeyRing([{ id: 1, key: keys.get(1)! }, { id: 2, key: randomBytes(32) }]);
    const after = new AuditLog(db, rotated);
    for (let i = 11; i <= 13; i++) await after.append(entry(i));
    expect(await after.verify(1)).toMatchObject({ ok: true, checked: 13 });
    expect((await db.query<{ k: number }>('SELECT key_id AS k FROM audit_log WHERE seq = 13')).rows[0]!.k).toBe(2);
    // Verification without the old key cannot vouch for the old rows.
    const onlyNew = new AuditLog(db, new AuditKeyRing([{ id: 2, key: rotated.get(2)! }]));
    expect((await onlyNew.verify(1)).firstBroken?.reason).toMatch(/unknown key 1/);
  });

  it('replicas sharing a key file take in a rotation made by one of them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'z4j-keys-'));
    try {
      const file = join(dir, 'audit.key');
      writeFileSync(file, `${formatAuditKeys([{ id: 1, key: keys.get(1)! }])}\n`);
      const ring = () => new AuditKeyRing(parseAuditKeys(readFileSync(file, 'utf8'))!, file);
      const [a, writer, reader, late] = [ring(), ring(), ring(), ring()];
      expect(a.rotate().id).toBe(2);
      await new AuditLog(db, a).append(entry(11)); // the head is now signed with key 2
      // Another replica's next row is MAC'd with the new key, not the retired one.
      await new AuditLog(db, writer).append(entry(12));
      expect((await db.query<{ k: number }>('SELECT key_id AS k FROM audit_log WHERE seq = 12')).rows[0]!.k).toBe(2);
      expect(await new AuditLog(db, reader).verify(1)).toMatchObject({ ok: true, checked: 12 });
      // A rotation from a replica that has not read the file since numbers the key after the other's.
      expect(late.rotate().id).toBe(3);
      expect(parseAuditKeys(readFileSync(file, 'utf8'))!.map((k) => k.id)).toEqual([1, 2, 3]);
      // A file that lost a key the service uses is not taken in, nor rotated over.
      writeFileSync(file, `${formatAuditKeys([{ id: 3, key: late.get(3)! }])}\n`);
      expect(late.reload()).toBe('differs');
      expect(() => late.rotate()).toThrow(/no longer holds the keys/);
      expect(late.ids).toEqual([1, 2, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prunes through the controlled path: the rest verifies, a later truncation does not', async () => {
    await db.exec(`SELECT 1`); // rows 1..10 exist
    // The first millisecond after row 5's time: a JavaScript Date has no microseconds, so row 6's
    // own time, read back, could fall at or before row 5's when both were written in one millisecond.
    const cut = (await db.query<{ at: Date }>(`SELECT date_trunc('milliseconds', at) + interval '1 millisecond' AS at FROM audit_log WHERE seq = 5`)).rows[0]!.at;
    const gone = await audit.prune(1, cut);
    expect(gone).toBeGreaterThanOrEqual(5);
    const r = await audit.verify(1);
    expect(r).toMatchObject({ ok: true, prunedThroughSeq: gone, lastSeq: 10, checked: 10 - gone });
    await audit.append(entry(11));
    expect((await audit.verify(1)).ok).toBe(true);
    // Deleting the first rows after the watermark is detected, as is moving the watermark without the key.
    await tamper(db, `DELETE FROM audit_log WHERE project_id = 1 AND seq = ${gone + 1}`);
    expect((await audit.verify(1)).firstBroken?.seq).toBe(gone + 1);
    await db.query(`UPDATE audit_chain SET pruned_through_seq = pruned_through_seq + 1 WHERE project_id = 1`);
    expect((await audit.verify(1)).firstBroken?.reason).toMatch(/chain head/);
  });

  it('lists newest first with filters and keyset pages, treating injection strings as text', async () => {
    const all = (await audit.list(1, { limit: 100 })).entries.map((e) => e.seq);
    expect(all).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    const p1 = await audit.list(1, { limit: 4, action: 'member.add' });
    expect(p1.entries.map((e) => e.seq)).toEqual([9, 7, 5, 3]);
    const p2 = await audit.list(1, { limit: 4, action: 'member.add', beforeSeq: Number(p1.nextCursor) });
    expect(p2).toMatchObject({ nextCursor: null });
    expect(p2.entries.map((e) => e.seq)).toEqual([1]);
    expect((await audit.list(1, { limit: 10, action: 'member*' })).entries).toHaveLength(5);
    expect((await audit.list(1, { limit: 10, actor: 'otto' })).entries.map((e) => e.seq)).toEqual([10, 7, 4, 1]);
    for (const evil of ["' OR 1=1 --", "'; DROP TABLE audit_log; --", '%', '_*']) {
      expect((await audit.list(1, { limit: 10, actor: evil, target: evil })).entries).toEqual([]);
      expect((await audit.list(1, { limit: 10, action: evil })).entries).toEqual([]);
    }
    expect((await audit.verify(1)).ok).toBe(true);
  });

  it('stores and verifies hostile text (NUL bytes, lone surrogates, very long values)', async () => {
    await audit.append(entry(11, { target: `a\u0000b\ud800c${'x'.repeat(5000)}`, detail: { ['k\u0000']: '\udfff', n: 1e21, deep: [[[[[[[[[[1]]]]]]]]]] } }));
    expect((await audit.verify(1)).ok).toBe(true);
  });
});

describe('concurrent appends on PostgreSQL', () => {
  it('never fork the chain', async () => {
    const { openPostgres } = await import('../db/postgres.js');
    const { migrate } = await import('../db/migrate.js');
    const db = openPostgres(await createTestDatabase('audit_race'), 20);
    try {
      await migrate(db);
      const audit = new AuditLog(db, new AuditKeyRing([{ id: 1, key: randomBytes(32) }]));
      await Promise.all(Array.from({ length: 60 }, (_, i) => audit.append(entry(i))));
      expect(await audit.verify(1)).toMatchObject({ ok: true, checked: 60, lastSeq: 60 });
    } finally {
      await db.close();
    }
  });
});

describe('z4j audit verify', () => {
  it('reports every project, and the first broken row with exit code 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'z4j-audit-cli-'));
    const key = randomBytes(32);
    try {
      const url = await createTestDatabase('audit_cli');
      const config = loadConfig({}, { DATABASE_URL: url, Z4J_DATA_DIR: dir, Z4J_AUDIT_KEYS: formatAuditKeys([{ id: 1, key }]) });
      const { openPostgres } = await import('../db/postgres.js');
      const { migrate } = await import('../db/migrate.js');
      const db = openPostgres(url);
      await migrate(db);
      const audit = new AuditLog(db, new AuditKeyRing([{ id: 1, key }]));
      for (let i = 1; i <= 3; i++) await audit.append(entry(i));
      const lines: string[] = [];
      expect(await auditVerify(config, [], (l) => lines.push(l))).toBe(0);
      expect(lines).toEqual(['default: ok (3 rows verified, last seq 3)']);
      await tamper(db, `UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 2`);
      await db.close();
      lines.length = 0;
      expect(await auditVerify(config, ['--project', 'default'], (l) => lines.push(l))).toBe(1);
      expect(lines[0]).toMatch(/^default: BROKEN at seq 2 \(row id \d+\): row does not match its MAC/);
      expect(await auditVerify(config, ['--project', 'nope'], () => undefined)).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
