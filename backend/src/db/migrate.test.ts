import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestDatabase } from '../../test/helpers/storage.js';
import { migrate, loadMigrations, UnsupportedDatabaseError } from './migrate.js';
import { openPostgres } from './postgres.js';
import type { Db } from './db.js';

describe('migrations on PostgreSQL', () => {
  it('apply exactly once when two replicas start together', async () => {
    const url = await createTestDatabase('migrate');
    const a = openPostgres(url);
    const b = openPostgres(url);
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      expect([...ra, ...rb].sort((x, y) => x - y)).toEqual(loadMigrations().map((m) => m.version));
      expect((await a.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0]).toEqual({ n: loadMigrations().length });
      expect(await migrate(a)).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('record the audit key rotations the chains hold when audit_key_rotations is made (0031)', async () => {
    const db = openPostgres(await createTestDatabase('migrate_rotations'));
    try {
      await migrate(db, loadMigrations().filter((m) => m.version < 31));
      const ids = (await db.query<{ id: number }>(`INSERT INTO projects (slug, name) VALUES ('a', 'A'), ('b', 'B') RETURNING id`)).rows.map((r) => r.id);
      const row = (project: number, seq: number, at: string, detail: unknown, outcome = 'ok') =>
        db.query(
          `INSERT INTO audit_log (project_id, seq, at, actor_kind, actor_name, action, target, outcome, detail, key_id, mac)
           VALUES ($1, $2, $3, 'user', 'otto', 'audit.key.rotate', 'project:x', $4, $5, 1, '\\x00')`,
          [project, seq, at, outcome, JSON.stringify(detail)],
        );
      // Key 2 recorded in both projects' chains (a rotation of the service's ring), then key 3.
      await row(ids[0]!, 1, '2026-11-01T10:00:00Z', { from: 1, to: 2 });
      await row(ids[1]!, 1, '2026-11-01T10:00:01Z', { from: 1, to: 2 });
      await row(ids[0]!, 2, '2026-11-20T10:00:00Z', { from: 2, to: 3 });
      await row(ids[1]!, 2, '2026-11-21T10:00:00Z', { from: 2, to: 4 }, 'refused'); // not a rotation
      await row(ids[1]!, 3, '2026-11-22T10:00:00Z', { from: null, to: 'x' }); // not a key id
      await migrate(db);
      const rotations = await db.query(`SELECT key_id, from_key_id, rotated_at, rotated_by FROM audit_key_rotations ORDER BY key_id`);
      expect(rotations.rows).toEqual([
        { key_id: 2, from_key_id: 1, rotated_at: new Date('2026-11-01T10:00:00Z'), rotated_by: 'otto' },
        { key_id: 3, from_key_id: 2, rotated_at: new Date('2026-11-20T10:00:00Z'), rotated_by: 'otto' },
      ]);
    } finally {
      await db.close();
    }
  });

  it('refuse a PostgreSQL older than 14 with a clear message', async () => {
    const old = { query: async () => ({ rows: [{ v: 130011 }] }) } as unknown as Db;
    await expect(migrate(old)).rejects.toThrow(UnsupportedDatabaseError);
    await expect(migrate(old)).rejects.toThrow(/PostgreSQL 13 is not supported: z4j needs PostgreSQL 14 or newer/);
  });

  it('refuse two migrations of one number, which would leave the second never applied', () => {
    const dir = mkdtempSync(join(tmpdir(), 'z4j-migrations-'));
    for (const f of ['0001_init.sql', '0002_members.sql', '0002_task_ids.sql']) writeFileSync(join(dir, f), 'SELECT 1;');
    expect(() => loadMigrations(pathToFileURL(`${dir}/`))).toThrow('two migrations are numbered 2: members and task_ids');
  });
});
