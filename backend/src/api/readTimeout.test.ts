// The explorer's reads run on a pool of their own whose statements PostgreSQL cancels past
// Z4J_QUERY_TIMEOUT_S: a search over every row answers 503 QUERY_TIMEOUT instead of running on
// (and holding a connection ingest needs) for as long as it takes.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { createTestDatabase } from '../../test/helpers/storage.js';

describe('explorer reads on PostgreSQL', () => {
  let db: Db;
  let reads: Db;

  beforeAll(async () => {
    const url = await createTestDatabase('read_timeout');
    db = openPostgres(url);
    await migrate(db);
    await db.query(
      `INSERT INTO tasks (project_id, engine, task_id, name, state, args, first_seen_at, last_event_at, attempt_at, state_at)
       SELECT p.id, 'celery', 'task-' || i, 'app.task', 'succeeded', jsonb_build_array('order-' || i, repeat('x', 200)), now(), now(), now(), now()
         FROM projects p, generate_series(1, 100000) AS i WHERE p.slug = 'default'`,
    );
    reads = openPostgres(url, 1, { statementTimeoutMs: 5 });
  }, 120_000);
  afterAll(async () => {
    await reads?.close();
    await db?.close();
  });

  test('a search past the timeout is cancelled: 503 QUERY_TIMEOUT, and the pool serves the next read', async () => {
    const api = testApp(db, { reads }).app;
    const slow = await request(api).get('/api/tasks').set(authHeaders()).query({ q: 'no such text anywhere' });
    expect([slow.status, slow.body.error.code]).toEqual([503, 'QUERY_TIMEOUT']);
    expect(slow.body.error.message).toMatch(/narrow the time range/);
    expect((await reads.query<{ ok: number }>('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]); // its one connection still serves
    // Without the timeout the same search runs to its end.
    const patient = await request(testApp(db).app).get('/api/tasks').set(authHeaders()).query({ q: 'no such text anywhere' });
    expect([patient.status, patient.body.tasks]).toEqual([200, []]);
  });
});
