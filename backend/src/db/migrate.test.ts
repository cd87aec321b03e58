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
