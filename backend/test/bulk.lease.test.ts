// A bulk job's chunk that outlives its lease: another runner (another replica) has taken the job
// over meanwhile, and the late chunk must leave that runner's cursor and lease as they are.
import { pino } from 'pino';
import type { ActionService } from '../src/actions/actionService.js';
import { BulkActions } from '../src/actions/bulk.js';
import type { Db } from '../src/db/db.js';
import { BatchWriter } from '../src/ingest/batchWriter.js';
import { taskEvent } from './helpers/envelopes.js';
import { STORAGES, openTestDb } from './helpers/storage.js';

const log = pino({ level: 'silent' });

describe.each(STORAGES)('a bulk chunk that outlived its lease on %s', (storage) => {
  let db: Db;
  let projectId: number;
  beforeAll(async () => {
    db = await openTestDb(storage, 'bulk_lease');
    await new BatchWriter(db).write([1, 2, 3].map((i) => taskEvent(`t-lease-${i}`, 'failed', i, { name: 'app.a' })));
    projectId = (await db.query<{ id: number }>("SELECT id FROM projects WHERE slug = 'default'")).rows[0]!.id;
  });
  afterAll(async () => {
    await db?.close();
  });

  test('leaves the cursor and lease of the runner that took the job over', async () => {
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const actions = {
      drivers: new Map(),
      // The first task's action hangs until the job has been taken over.
      async taskAction() {
        if (calls++ === 0) await held;
        return { command: { state: 'pending' }, created: true };
      },
    } as unknown as ActionService;
    const late = new BulkActions(db, actions, log, 100, 2);
    const { job } = await late.start(projectId, 'retry', { state: 'failed' }, 'alice', 'key-lease');
    const chunk = late.runOnce();
    while (calls === 0) await new Promise((r) => setTimeout(r, 10));
    await db.query(`UPDATE bulk_jobs SET lease_owner = 'other-replica:1', lease_until = now() + interval '60 seconds', cursor = 'cursor-of-other' WHERE id = $1`, [job.id]);
    release();
    expect(await chunk).toBe(true);
    const row = (await db.query<{ cursor: string | null; owner: string | null; state: string }>(
      'SELECT cursor, lease_owner AS owner, state FROM bulk_jobs WHERE id = $1', [job.id])).rows[0];
    expect(row).toEqual({ cursor: 'cursor-of-other', owner: 'other-replica:1', state: 'running' });
  });
});
