// The invitations, API tokens and agents lists page by key as the explorer does: walked page by
// page they give every row of the project once, in order, rows created in the same microsecond
// included; a cursor this API did not hand out and a limit out of bounds are refused.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Db } from '../db/db.js';
import { Sealer } from '../crypto/seal.js';
import { mintAgent } from '../auth/agentCredentials.js';
import { mintApiToken } from '../auth/apiTokens.js';
import { createInvitation } from '../auth/invitations.js';
import { DEFAULT_ROLE_MAPPING } from '../auth/roles.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';

/** Rows per list in the project: more than one default page (50). */
const N = 62;
const START = '2024-03-01T10:00:00.123456Z';

interface List {
  path: string;
  key: 'invitations' | 'tokens' | 'agents';
  table: string;
  mint: (db: Db, projectId: number, i: number) => Promise<unknown>;
}

const sealer = new Sealer([{ id: 1, key: randomBytes(32) }]);
const LISTS: List[] = [
  { path: '/api/invitations', key: 'invitations', table: 'invitations', mint: (db, p, i) => createInvitation(db, p, { email: `u${i}@example.com`, role: 'viewer', invitedBy: 'ada' }) },
  { path: '/api/tokens', key: 'tokens', table: 'api_tokens', mint: (db, p, i) => mintApiToken(db, { id: p, roleMapping: DEFAULT_ROLE_MAPPING }, { name: `ci-${i}`, role: 'viewer', expiresInDays: 30, createdBy: 'ada' }) },
  { path: '/api/agents', key: 'agents', table: 'agents', mint: (db, p, i) => mintAgent(db, sealer, p, { name: `fleet-${i}`, createdBy: 'ada' }) },
];

describe.each(STORAGES)('identity lists on %s', (storage) => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];
  let projectId: number;

  beforeAll(async () => {
    db = await openTestDb(storage, 'idlists');
    app = testApp(db).app;
    projectId = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'default'`)).rows[0]!.id;
    const other = (await db.query<{ id: number }>(`INSERT INTO projects (slug, name) VALUES ('other', 'Other') RETURNING id`)).rows[0]!.id;
    for (const list of LISTS) {
      for (let i = 0; i < N; i++) await list.mint(db, projectId, i);
      for (let i = 0; i < 3; i++) await list.mint(db, other, 1000 + i);
      // Three rows to a microsecond: the id alone orders them, across page boundaries too.
      await db.query(
        `UPDATE ${list.table} t SET created_at = $1::timestamptz + make_interval(secs => n.k / 3)
           FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS k FROM ${list.table}) n WHERE n.id = t.id`,
        [START],
      );
    }
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  /** The project's ids as the lists order them: newest first, then by id. */
  const expected = async (list: List) =>
    (await db.query<{ id: string }>(`SELECT id FROM ${list.table} WHERE project_id = $1 ORDER BY created_at DESC, id DESC`, [projectId])).rows.map((r) => r.id);

  /** Every page of a list, following nextCursor; the ids and how many pages it took. */
  async function walk(list: List, query: Record<string, string>): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let pages = 1; pages < 1000; pages++) {
      const res = await request(app).get(list.path).set(authHeaders('admin')).query({ ...query, ...(cursor ? { cursor } : {}) });
      expect([res.status, 'nextCursor' in res.body]).toEqual([200, true]);
      ids.push(...res.body[list.key].map((r: { id: string }) => r.id));
      cursor = res.body.nextCursor;
      if (cursor === null) return { ids, pages };
    }
    throw new Error('pagination did not end');
  }

  describe.each(LISTS)('$path', (list) => {
    it('gives every row of the project once, newest first, page by page (rows sharing a created_at included)', async () => {
      const all = await expected(list);
      expect(all).toHaveLength(N);
      for (const limit of ['1', '3', '4', '7', '500']) {
        const { ids, pages } = await walk(list, { limit });
        expect(ids).toEqual(all);
        expect(pages).toBe(Math.max(1, Math.ceil(N / Number(limit))));
      }
    });

    it('answers the first page of 50 to a caller that asks for no page', async () => {
      const res = await request(app).get(list.path).set(authHeaders('admin'));
      expect(res.status).toBe(200);
      expect(res.body[list.key].map((r: { id: string }) => r.id)).toEqual((await expected(list)).slice(0, 50));
      expect(res.body.nextCursor).toEqual(expect.any(String));
      const rest = await request(app).get(list.path).set(authHeaders('admin')).query({ cursor: res.body.nextCursor });
      expect(rest.body[list.key]).toHaveLength(N - 50);
      expect(rest.body.nextCursor).toBeNull();
    });

    it('keeps its place when a row is created between two pages', async () => {
      const before = await expected(list);
      const first = await request(app).get(list.path).set(authHeaders('admin')).query({ limit: '10' });
      await list.mint(db, projectId, 5000);
      const { ids } = await walk(list, { limit: '10', cursor: first.body.nextCursor });
      expect([...first.body[list.key].map((r: { id: string }) => r.id), ...ids]).toEqual(before);
      await db.query(`DELETE FROM ${list.table} WHERE project_id = $1 AND id <> ALL($2::text[])`, [projectId, before]);
    });

    it.each([
      ['a forged cursor', 'BAD_CURSOR', { cursor: 'bm90IGEgY3Vyc29y' }],
      ['a cursor with a day that does not exist', 'BAD_CURSOR', { cursor: Buffer.from(JSON.stringify(['2026-02-30T10:00:00.000000Z', 'tok_x'])).toString('base64url') }],
      ['a cursor with an id z4j never mints', 'BAD_CURSOR', { cursor: Buffer.from(JSON.stringify(['2026-03-01T10:00:00.000000Z', "x' OR 1=1"])).toString('base64url') }],
      ['a cursor too long', 'BAD_REQUEST', { cursor: 'a'.repeat(201) }],
      ['a limit of 0', 'BAD_REQUEST', { limit: '0' }],
      ['a limit past 500', 'BAD_REQUEST', { limit: '501' }],
      ['a limit that is not a number', 'BAD_REQUEST', { limit: 'all' }],
      ['an unknown (misspelt) parameter', 'BAD_REQUEST', { Cursor: 'x' }],
    ])('refuses %s with 400 %s', async (_label, code, query) => {
      const res = await request(app).get(list.path).set(authHeaders('admin')).query(query);
      expect([res.status, res.body.error?.code]).toEqual([400, code]);
    });

    it('still refuses a Viewer and an Operator, whatever page they ask for', async () => {
      const first = await request(app).get(list.path).set(authHeaders('admin')).query({ limit: '2' });
      for (const role of ['viewer', 'operator'] as const) {
        for (const query of [{}, { limit: '2', cursor: first.body.nextCursor }]) {
          const res = await request(app).get(list.path).set(authHeaders(role)).query(query);
          expect([role, res.status, res.body.error?.code]).toEqual([role, 403, 'ROLE_TOO_LOW']);
        }
      }
    });
  });
});
