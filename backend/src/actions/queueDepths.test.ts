import type { Db } from '../db/db.js';
import type { EngineDriver } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';
import { sampleQueueDepths } from './queueDepths.js';

/** A driver whose broker holds `depths` (a queue it does not know answers null; 'down' throws). */
const driver = (engine: Engine, depths: Record<string, number>, more: Partial<EngineDriver> = {}): EngineDriver & { asked: string[] } => {
  const asked: string[] = [];
  return {
    engine,
    capabilities: {},
    asked,
    async queueDepth(queue: string) {
      asked.push(queue);
      if (queue === 'down') throw new Error('broker unreachable');
      return depths[queue] ?? null;
    },
    ...more,
  };
};

describe.each(STORAGES)('queue depth sampling on %s', (storage) => {
  let db: Db;

  beforeAll(async () => {
    db = await openTestDb(storage, 'queue_depths');
    await db.query(`INSERT INTO projects (slug, name) VALUES ('ops', 'Ops'), ('elsewhere', 'Elsewhere')`);
    // Queues as the pipeline records them from task events; 'down' had a sample before.
    await db.query(
      `INSERT INTO queues (project_id, engine, name, first_seen_at, last_seen_at, depth, depth_at)
       SELECT p.id, q.engine, q.name, now(), now(), q.depth, CASE WHEN q.depth IS NULL THEN NULL ELSE now() - interval '1 hour' END
         FROM projects p, (VALUES ('rq', 'default', NULL::bigint), ('rq', 'down', 7), ('rq', 'gone', NULL), ('huey', 'app', NULL),
                                  ('arq', 'arq:queue', NULL), ('celery', 'celery', NULL)) AS q(engine, name, depth)
        WHERE p.slug IN ('default', 'ops', 'elsewhere')`,
    );
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const depths = async () =>
    (await db.query<{ slug: string; engine: string; name: string; depth: string | null; sampled: boolean }>(
      `SELECT p.slug, q.engine, q.name, q.depth::text AS depth, q.depth_at > now() - interval '1 minute' AS sampled
         FROM queues q JOIN projects p ON p.id = q.project_id ORDER BY p.slug, q.engine, q.name`,
    )).rows.map((r) => `${r.slug} ${r.engine}/${r.name}: ${r.depth ?? '-'}${r.sampled ? ' (now)' : ''}`);

  test("every engine's queues are read through its driver, once for all the projects that act on its broker", async () => {
    const rq = driver('rq', { default: 12 });
    const huey = driver('huey', { app: 0 });
    const drivers = new Map<Engine, EngineDriver>([
      ['rq', rq],
      ['huey', huey],
      // Celery's driver exists without a broker to read: it says so, and is not asked.
      ['celery', driver('celery', { celery: 99 }, { notConfigured: 'set Z4J_CELERY_BROKERS' })],
      ['arq', { engine: 'arq', capabilities: {} }], // a driver that cannot read depths
    ]);

    await sampleQueueDepths(db, ['default', 'ops'], drivers);

    expect(rq.asked.sort()).toEqual(['default', 'down', 'gone']);
    expect(huey.asked).toEqual(['app']);
    expect(await depths()).toEqual([
      'default arq/arq:queue: -',
      'default celery/celery: -',
      'default huey/app: 0 (now)',
      'default rq/default: 12 (now)',
      'default rq/down: 7', // unreachable: the last sample stays, with its time
      'default rq/gone: -', // the broker no longer knows it
      // A project that does not act on the brokers is not shown their depths.
      'elsewhere arq/arq:queue: -',
      'elsewhere celery/celery: -',
      'elsewhere huey/app: -',
      'elsewhere rq/default: -',
      'elsewhere rq/down: 7',
      'elsewhere rq/gone: -',
      'ops arq/arq:queue: -',
      'ops celery/celery: -',
      'ops huey/app: 0 (now)',
      'ops rq/default: 12 (now)',
      'ops rq/down: 7',
      'ops rq/gone: -',
    ]);
  });

  test('a queue sampled empty says since when nothing sent before waits in it; one that is not keeps the time it last was', async () => {
    await db.query(`UPDATE queues SET empty_at = NULL`);
    const rq = driver('rq', { default: 0, down: 3 });
    await sampleQueueDepths(db, ['default'], new Map<Engine, EngineDriver>([['rq', rq]]));
    const emptyAt = async () => (await db.query<{ name: string; now: boolean }>(
      `SELECT q.name, q.empty_at > now() - interval '1 minute' AS now FROM queues q JOIN projects p ON p.id = q.project_id
        WHERE p.slug = 'default' AND q.engine = 'rq' AND q.empty_at IS NOT NULL ORDER BY q.name`,
    )).rows;
    expect(await emptyAt()).toEqual([{ name: 'default', now: true }]);
    await db.query(`UPDATE queues SET empty_at = now() - interval '1 hour' WHERE name = 'default'`);
    await sampleQueueDepths(db, ['default'], new Map<Engine, EngineDriver>([['rq', driver('rq', { default: 5 })]]));
    expect(await emptyAt()).toEqual([{ name: 'default', now: false }]);
  });
});
