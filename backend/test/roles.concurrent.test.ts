// Roles changed by two people at once (each request may reach another replica): the second
// change is checked against, and replaces, what the first one left, not what its own request
// found when it began: the role mapping, and a membership written for the first time.
import request from 'supertest';
import { testApp } from './helpers/api.js';
import { authHeaders } from './helpers/auth.js';
import { twoReplicas, whileHeld } from './helpers/replicas.js';

describe('roles changed by an Owner and an Admin at once (PostgreSQL)', () => {
  const replicas = twoReplicas('role_rules_race');

  const mapping = async () => (await replicas.a.query<{ m: { teams: unknown[] } }>("SELECT role_mapping AS m FROM projects WHERE slug = 'default'")).rows[0]!.m;

  test('an Admin\'s change that lands after an Owner made team 42 Owners cannot take that grant away', async () => {
    const { app } = testApp(replicas.a);
    const base = (await request(app).get('/api/role-rules').set(authHeaders('admin'))).body.roleMapping;
    const ownersTeam = { ...base, teams: [{ teamId: 42, role: 'owner' }] };
    // The Owner's change, committed while the Admin's request is under way (as another replica would).
    // The Admin read the mapping before the Owner's commit: no Owner grant changes, as far as it knew.
    const answer = await whileHeld(replicas.url, (owner) => owner.query("UPDATE projects SET role_mapping = $1::jsonb WHERE slug = 'default'", [JSON.stringify(ownersTeam)]),
      () => request(app).put('/api/role-rules').set(authHeaders('admin')).send({ ...base, orgRoles: { ...base.orgRoles, Viewer: null } }).then((r) => r));
    expect([answer.status, answer.body.error?.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect((await mapping()).teams).toEqual([{ teamId: 42, role: 'owner' }]);
  });

  test('an Admin adding a member the Owner is making Owner at that moment cannot overwrite it', async () => {
    const { app } = testApp(replicas.a);
    // The Owner's membership of user 777, written and not yet committed.
    const answer = await whileHeld(replicas.url, (owner) => owner.query(
      `INSERT INTO memberships (project_id, user_id, login, role, created_by, set_by_owner)
       SELECT id, 777, 'olga', 'owner', 'user:owner', true FROM projects WHERE slug = 'default'`,
    ), () => request(app).put('/api/members/777').set(authHeaders('admin')).send({ login: 'olga', role: 'viewer' }).then((r) => r));
    expect([answer.status, answer.body.error?.code]).toEqual([403, 'ROLE_TOO_LOW']);
    expect((await replicas.a.query('SELECT role, set_by_owner AS "setByOwner" FROM memberships WHERE user_id = 777')).rows).toEqual([{ role: 'owner', setByOwner: true }]);
  });
});
