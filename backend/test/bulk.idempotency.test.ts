// A bulk job is started once per Idempotency-Key, also when the same key comes twice at once (a
// client's retry after a timeout, reaching another replica while the first request still runs).
import { pino } from 'pino';
import type { ActionService } from '../src/actions/actionService.js';
import { BulkActions } from '../src/actions/bulk.js';
import type { Db } from '../src/db/db.js';
import { BatchWriter } from '../src/ingest/batchWriter.js';
import { taskEvent } from './helpers/envelopes.js';
import { STORAGES, openTestDb } from './helpers/storage.js';

const log = pino({ level: 'silent' });
// Starting a job reads only which engines can act (the preview); no driver is needed for that.
const actions = { drivers: new Map() } as unknown as ActionService;

describe.each(STORAGES)('bulk jobs started twice at once with one Idempotency-Key on %s', (storage) => {
  let db: Db;
  let bulk: BulkActions;
  let projectId: number;
  beforeAll(async () => {
    db = await openTestDb(storage, 'bulk_idempotency');
    await new BatchWriter(db).write([
      taskEvent('t-bulk-1', 'failed', 1, { name: 'app.a', queue: 'q1' }),
      taskEvent('t-bulk-2', 'failed', 2, { name: 'app.b', queue: 'q2' }),
    ]);
    projectId = (await db.query<{ id: number }>("SELECT id FROM projects WHERE slug = 'default'")).rows[0]!.id;
    bulk = new BulkActions(db, actions, log, 100);
  });
  afterAll(async () => {
    await db?.close();
  });

  const jobs = async (key: string) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM bulk_jobs WHERE idempotency_key = $1', [key])).rows[0]!.n;

  test('the same request twice: one job, started by one of them and returned to the other as a repeat', async () => {
    const [a, b] = await Promise.all([
      bulk.start(projectId, 'retry', { state: 'failed' }, 'alice', 'key-same-twice'),
      bulk.start(projectId, 'retry', { state: 'failed' }, 'alice', 'key-same-twice'),
    ]);
    expect(a.job.id).toBe(b.job.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(await jobs('key-same-twice')).toBe(1);
  });

  test('two different requests with one key: the second is refused, not answered with the first one\'s job', async () => {
    const results = await Promise.allSettled([
      bulk.start(projectId, 'retry', { name: 'app.a' }, 'alice', 'key-two-requests'),
      bulk.start(projectId, 'retry', { name: 'app.b' }, 'alice', 'key-two-requests'),
    ]);
    const started = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(started).toHaveLength(1);
    expect(refused.map((r) => r.reason.code)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(await jobs('key-two-requests')).toBe(1);
  });
});
