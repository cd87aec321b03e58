// Roles changed by two people at once (each request may reach another replica): the second
// change is checked against, and replaces, what the first one left, not what its own request
// found when it began: the role mapping, and a membership written for the first time.
import pg from 'pg';
import request from 'supertest';
import type { Db } from '../src/db/db.js';
import { migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres.js';
import { testApp } from './helpers/api.js';
import { authHeaders } from './helpers/auth.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

describe('roles changed by an Owner and an Admin at once (PostgreSQL)', () => {
  let url: string;
  let db: Db;
  beforeAll(async () => {
    url = await createTestDatabase('role_rules_race');
    db = openPostgres(url);
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const mapping = async () => (await db.query<{ m: { teams: unknown[] } }>("SELECT role_mapping AS m FROM projects WHERE slug = 'default'")).rows[0]!.m;

  test('an Admin\'s change that lands after an Owner made team 42 Owners cannot take that grant away', async () => {
    const { app } = testApp(db);
    const base = (await request(app).get('/api/role-rules').set(authHeaders('admin'))).body.roleMapping;
    const ownersTeam = { ...base, teams: [{ teamId: 42, role: 'owner' }] };
    // The Owner's change, committed while the Admin's request is under way (as another replica would).
    const owner = new pg.Client({ connectionString: url });
    await owner.connect();
    let answer: request.Response;
    try {
      await owner.query('BEGIN');
      await owner.query("UPDATE projects SET role_mapping = $1::jsonb WHERE slug = 'default'", [JSON.stringify(ownersTeam)]);
      // The Admin read the mapping before the Owner's commit: no Owner grant changes, as far as it knew.
      const adminChange = request(app).put('/api/role-rules').set(authHeaders('admin')).send({ ...base, orgRoles: { ...base.orgRoles, Viewer: null } }).then((r) => r);
      await eventually(async () => expect((await owner.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )).rows[0].n).toBe(1), 10_000, 20);
      await owner.query('COMMIT');
      answer = await adminChange;
    } finally {
      await owner.end();
    }
    expect([answer.status, answer.body.error?.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect((await mapping()).teams).toEqual([{ teamId: 42, role: 'owner' }]);
  });

  test('an Admin adding a member the Owner is making Owner at that moment cannot overwrite it', async () => {
    const { app } = testApp(db);
    const owner = new pg.Client({ connectionString: url });
    await owner.connect();
    let answer: request.Response;
    try {
      // The Owner's membership of user 777, written and not yet committed.
      await owner.query('BEGIN');
      await owner.query(
        `INSERT INTO memberships (project_id, user_id, login, role, created_by, set_by_owner)
         SELECT id, 777, 'olga', 'owner', 'user:owner', true FROM projects WHERE slug = 'default'`,
      );
      const adminChange = request(app).put('/api/members/777').set(authHeaders('admin')).send({ login: 'olga', role: 'viewer' }).then((r) => r);
      await eventually(async () => expect((await owner.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`,
      )).rows[0].n).toBe(1), 10_000, 20);
      await owner.query('COMMIT');
      answer = await adminChange;
    } finally {
      await owner.end();
    }
    expect([answer.status, answer.body.error?.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect((await db.query('SELECT role, set_by_owner AS "setByOwner" FROM memberships WHERE user_id = 777')).rows).toEqual([{ role: 'owner', setByOwner: true }]);
  });
});
