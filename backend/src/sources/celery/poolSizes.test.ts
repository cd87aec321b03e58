import type { Db } from '../../db/db.js';
import { openTestDb } from '../../../test/helpers/storage.js';
import type { CeleryBroker } from './broker.js';
import { CeleryPoolSizes, onlineCeleryWorkers } from './poolSizes.js';

describe("Celery workers' pool sizes", () => {
  let db: Db;
  const asked: string[][] = [];
  /** Answers `stats` as Celery does, for the workers it knows; one answers nonsense. */
  const broker = {
    name: 'fake',
    request: async (method: string, _args: unknown, destination: string[] | null) => {
      expect(method).toBe('stats');
      asked.push(destination ?? []);
      const pools: Record<string, unknown> = { 'celery@a': { 'max-concurrency': 4 }, 'celery@b': { 'max-concurrency': 'many' }, 'celery@stranger': { 'max-concurrency': 9 } };
      return (destination ?? []).filter((h) => h in pools).map((h) => ({ [h]: { pool: pools[h] } })).concat([{ 'celery@stranger': { pool: { 'max-concurrency': 9 } } }]);
    },
  } as unknown as CeleryBroker;
  const sizes = async () => Object.fromEntries((await db.query<{ hostname: string; concurrency: number | null }>(`SELECT hostname, concurrency FROM workers ORDER BY hostname`)).rows.map((r) => [r.hostname, r.concurrency]));

  beforeAll(async () => {
    db = await openTestDb('pglite', 'celery_pool_sizes');
    for (const [hostname, online] of [['celery@a', true], ['celery@b', true], ['celery@gone', false]] as const) {
      await db.query(`INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at) SELECT id, 'celery', $1, $2, now(), now() FROM projects WHERE slug = 'default'`, [hostname, online]);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  test('are asked of the online workers, kept where the answer is a size, and asked again only after 10 minutes', async () => {
    const pools = new CeleryPoolSizes(db, 'default', [broker]);
    const t0 = Date.now();
    await pools.sample(await onlineCeleryWorkers(db, 'default'), t0);
    expect(asked).toEqual([['celery@a', 'celery@b']]);
    expect(await sizes()).toEqual({ 'celery@a': 4, 'celery@b': null, 'celery@gone': null });
    await pools.sample(await onlineCeleryWorkers(db, 'default'), t0 + 60_000);
    expect(asked).toHaveLength(1);
    await pools.sample(await onlineCeleryWorkers(db, 'default'), t0 + 600_000);
    expect(asked).toEqual([['celery@a', 'celery@b'], ['celery@b', 'celery@a']]);
  });
});
