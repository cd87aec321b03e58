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
});
