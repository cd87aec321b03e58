import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AuditLog } from '../audit/chain.js';
import { AuditKeyRing } from '../audit/keys.js';
import type { Db } from '../db/db.js';
import { createTestDatabase, openTestDb } from '../../test/helpers/storage.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { AlertingError, grantReader, listReaders, revokeReader } from './readers.js';

const actor = { kind: 'system' as const, id: 'cli:test', name: 'z4j alerting (command line)' };
const PASSWORD = 'reader-password-1';

// The roles a test makes are the server's, not its database's: named uniquely, dropped after.
const roleName = (label: string) => `z4j_test_${label}_${randomBytes(3).toString('hex')}`;

describe('alerting readers on PostgreSQL', () => {
  let db: Db;
  let url: string;
  let audit: AuditLog;
  const roles: string[] = [];
  const clients: pg.Client[] = [];

  /** A connection as the role, as Grafana's data source makes it. */
  async function connectAs(role: string): Promise<pg.Client> {
    const u = new URL(url);
    u.username = role;
    u.password = PASSWORD;
    const client = new pg.Client({ connectionString: u.toString() });
    await client.connect();
    clients.push(client);
    return client;
  }

  async function newReader(label: string, projects: string[]): Promise<{ role: string; client: pg.Client }> {
    const role = roleName(label);
    roles.push(role);
    await grantReader(db, audit, { role, projects, password: PASSWORD, actor });
    return { role, client: await connectAs(role) };
  }

  beforeAll(async () => {
    url = await createTestDatabase('alerting');
    db = openPostgres(url);
    await migrate(db);
    audit = new AuditLog(db, new AuditKeyRing([{ id: 1, key: randomBytes(32) }]));
    await db.query(`INSERT INTO projects (slug, name) VALUES ('payments', 'Payments'), ('search', 'Search'), ('gone', 'Gone')`);
    // Three tasks each, one failed, with arguments and a traceback the views must not show.
    await db.query(`
      INSERT INTO tasks (project_id, engine, task_id, name, queue, state, attempt_at, state_at, worker, runtime_ms, first_seen_at, last_event_at,
                         args, kwargs, result, exception, traceback)
      SELECT p.id, 'celery', p.slug || '-' || i, 'app.charge', 'default', CASE WHEN i = 1 THEN 'failed' ELSE 'succeeded' END,
             now(), now(), 'w1@h', 12.5, now() - make_interval(mins => i), now(),
             '["card-4242"]', '{"token": "[redacted]"}', '"ok"', 'ValueError: card-4242 refused', 'Traceback: card-4242'
        FROM projects p CROSS JOIN generate_series(1, 3) i WHERE p.slug IN ('default', 'payments', 'search', 'gone')`);
    await db.query(`INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at, dropped)
                    SELECT id, 'rq', 'w1@h', true, now(), now(), 7 FROM projects`);
    await db.query(`INSERT INTO queues (project_id, engine, name, first_seen_at, last_seen_at, depth, depth_at)
                    SELECT id, 'rq', 'default', now(), now(), 42, now() FROM projects`);
    await db.query(`UPDATE projects SET deleted_at = now() WHERE slug = 'gone'`);
  });

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    for (const role of roles) {
      if ((await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rows.length) {
        await db.query(`DROP OWNED BY ${role}`);
        await db.query(`DROP ROLE ${role}`);
      }
    }
    await db?.close();
  });

  it('creates the role, which reads the granted projects through the views and no table', async () => {
    const { role, client } = await newReader('one', ['payments']);
    const attrs = (await db.query<{ rolcanlogin: boolean; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
      'SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1', [role],
    )).rows[0];
    expect(attrs).toEqual({ rolcanlogin: true, rolsuper: false, rolcreaterole: false, rolcreatedb: false });

    const tasks = await client.query('SELECT project, task_id, state, exception_type FROM z4j_alerting.tasks ORDER BY task_id');
    expect(tasks.rows).toEqual([
      { project: 'payments', task_id: 'payments-1', state: 'failed', exception_type: 'ValueError' },
      { project: 'payments', task_id: 'payments-2', state: 'succeeded', exception_type: 'ValueError' },
      { project: 'payments', task_id: 'payments-3', state: 'succeeded', exception_type: 'ValueError' },
    ]);
    // Celery's repr of an exception and a dotted class name give their type too.
    await db.query(`UPDATE tasks SET exception = $1 WHERE task_id = 'payments-2'`, ["billing.errors.CardDeclined('card-4242')"]);
    await db.query(`UPDATE tasks SET exception = NULL WHERE task_id = 'payments-3'`);
    expect((await client.query('SELECT exception_type FROM z4j_alerting.tasks ORDER BY task_id')).rows.map((r) => r.exception_type)).toEqual([
      'ValueError', 'billing.errors.CardDeclined', null,
    ]);
    expect((await client.query('SELECT project FROM z4j_alerting.projects')).rows).toEqual([{ project: 'payments' }]);
    expect((await client.query('SELECT project, worker, dropped FROM z4j_alerting.workers')).rows).toEqual([{ project: 'payments', worker: 'w1@h', dropped: '7' }]);
    expect((await client.query('SELECT project, queue, depth FROM z4j_alerting.queues')).rows).toEqual([{ project: 'payments', queue: 'default', depth: '42' }]);

    // Nothing of a task's own data: the views have no such column, and every table is closed.
    const columns = (await client.query('SELECT * FROM z4j_alerting.tasks LIMIT 1')).fields.map((f) => f.name);
    for (const c of ['args', 'kwargs', 'result', 'exception', 'traceback', 'sealed_payload']) expect(columns).not.toContain(c);
    const all = await client.query(`SELECT string_agg(x::text, ' ') AS t FROM z4j_alerting.tasks x`);
    expect(all.rows[0].t).not.toContain('card-4242');
    const tables = (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.t);
    expect(tables).toEqual(expect.arrayContaining(['tasks', 'task_events', 'audit_log', 'agent_secrets', 'alerting_readers']));
    for (const table of tables) {
      await expect(client.query(`SELECT 1 FROM "${table}" LIMIT 1`)).rejects.toThrow(/permission denied/);
    }
    await expect(client.query(`INSERT INTO alerting_readers (role_name, granted_by) VALUES ('${role}', 'me')`)).rejects.toThrow(/permission denied/);
  });

  it('shows a function of the reader only the rows of its projects (security barrier)', async () => {
    const { client } = await newReader('leak', ['search']);
    // A reader's own function in a WHERE clause, run before the view's filter, would see every
    // project's rows: it writes each row it is given into a temporary table of the reader's.
    await client.query('CREATE TEMP TABLE seen (task_id text)');
    await client.query(`CREATE FUNCTION pg_temp.peek(id text) RETURNS boolean LANGUAGE sql COST 0.0000001
                        AS $$ INSERT INTO seen VALUES (id) RETURNING true $$`);
    // A plan that reads all of tasks (as a large table would be read): any reader may ask for it.
    await client.query('SET enable_nestloop = off; SET enable_indexscan = off; SET enable_bitmapscan = off');
    await client.query('SELECT count(*) FROM z4j_alerting.tasks WHERE pg_temp.peek(task_id)');
    const seen = (await client.query('SELECT DISTINCT task_id FROM seen ORDER BY 1')).rows.map((r) => r.task_id);
    expect(seen).toEqual(['search-1', 'search-2', 'search-3']);
  });

  it('has every view of the schema behind a security barrier, filtered by the querying role', async () => {
    const views = (await db.query<{ name: string; options: string[] | null; definition: string }>(
      `SELECT c.relname AS name, c.reloptions AS options, pg_get_viewdef(c.oid) AS definition
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'z4j_alerting' ORDER BY 1`,
    )).rows;
    expect(views.map((v) => v.name)).toEqual(['projects', 'queues', 'schedule_runs', 'schedules', 'tasks', 'workers']);
    for (const v of views) {
      expect({ view: v.name, options: v.options }).toEqual({ view: v.name, options: ['security_barrier=true'] });
      expect(v.definition).toMatch(/role_name = CURRENT_USER/);
      expect(v.definition).toMatch(/deleted_at IS NULL/);
    }
  });

  it('reads every live project when granted without one, a deleted project never', async () => {
    const { client } = await newReader('all', []);
    const projects = (await client.query('SELECT project FROM z4j_alerting.projects ORDER BY 1')).rows.map((r) => r.project);
    expect(projects).toEqual(['default', 'payments', 'search']);
    const counts = (await client.query(`SELECT project, count(*) FILTER (WHERE state = 'failed')::int AS failed FROM z4j_alerting.tasks GROUP BY 1 ORDER BY 1`)).rows;
    expect(counts).toEqual([{ project: 'default', failed: 1 }, { project: 'payments', failed: 1 }, { project: 'search', failed: 1 }]);
    // A project made after the grant is read too.
    await db.query(`INSERT INTO projects (slug, name) VALUES ('later', 'Later')`);
    expect((await client.query(`SELECT 1 FROM z4j_alerting.projects WHERE project = 'later'`)).rows).toHaveLength(1);
  });

  it("reads a rule's time window through the explorer's index", async () => {
    const { client } = await newReader('plan', []);
    await client.query('SET enable_seqscan = off'); // a tiny table: the choice, not the cost, is under test
    const plan = (await client.query(`EXPLAIN SELECT count(*) FROM z4j_alerting.tasks WHERE first_seen_at > now() - interval '15 minutes' AND state = 'failed'`)).rows
      .map((r) => r['QUERY PLAN'] as string).join('\n');
    expect(plan).toMatch(/Index (Only )?Scan using tasks_\w+ on tasks t[\s\S]*Index Cond: .*first_seen_at > \(now\(\)/);
  });

  it('audits each grant and revocation in the chains of the projects it touches, and takes the rights back with the last', async () => {
    const role = roleName('revoke');
    roles.push(role);
    const before = async (slug: string) => (await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log a JOIN projects p ON p.id = a.project_id WHERE p.slug = $1 AND a.target = $2`, [slug, `role:${role}`],
    )).rows[0]!.n;
    expect(await grantReader(db, audit, { role, projects: ['payments', 'search'], password: PASSWORD, actor })).toEqual({ created: true, added: expect.arrayContaining(['payments', 'search']) });
    expect(await grantReader(db, audit, { role, projects: ['payments'], actor })).toEqual({ created: false, added: [] });
    expect([await before('payments'), await before('search'), await before('default')]).toEqual([1, 1, 0]);
    const rows = (await db.query(`SELECT actor_kind, actor_id, action, outcome, detail FROM audit_log WHERE target = $1 ORDER BY id LIMIT 1`, [`role:${role}`])).rows;
    expect(rows).toEqual([{ actor_kind: 'system', actor_id: 'cli:test', action: 'alerting.grant', outcome: 'ok', detail: { role, projects: expect.any(String), roleCreated: true } }]);
    expect((await listReaders(db)).filter((g) => g.role === role).map((g) => g.project)).toEqual(['payments', 'search']);

    const client = await connectAs(role);
    expect(await revokeReader(db, audit, { role, projects: ['search'], actor })).toEqual({ removed: ['search'], none: false });
    expect((await client.query('SELECT DISTINCT project FROM z4j_alerting.tasks')).rows).toEqual([{ project: 'payments' }]);
    expect(await revokeReader(db, audit, { role, projects: [], actor })).toEqual({ removed: ['payments'], none: true });
    await expect(client.query('SELECT 1 FROM z4j_alerting.tasks')).rejects.toThrow(/permission denied for schema z4j_alerting/);
    expect([await before('payments'), await before('search')]).toEqual([2, 2]);
    for (const slug of ['payments', 'search']) {
      const id = (await db.query<{ id: number }>('SELECT id FROM projects WHERE slug = $1', [slug])).rows[0]!.id;
      expect((await audit.verify(Number(id))).ok).toBe(true);
    }
    await expect(revokeReader(db, audit, { role, projects: [], actor })).rejects.toThrow(`role ${role} has no z4j alerting grant`);
  });

  it('refuses what would read past the views, and says what to do', async () => {
    await expect(grantReader(db, audit, { role: 'z4j', projects: [], actor })).rejects.toThrow(/the service's own/);
    const superuser = roleName('super');
    roles.push(superuser);
    await db.query(`CREATE ROLE ${superuser} SUPERUSER`);
    await expect(grantReader(db, audit, { role: superuser, projects: [], actor })).rejects.toThrow(/is a superuser/);
    // A member of the service's role has its rights on every table.
    const member = roleName('member');
    roles.push(member);
    await db.query(`CREATE ROLE ${member} LOGIN; GRANT ${(await db.query<{ r: string }>('SELECT current_user AS r')).rows[0]!.r} TO ${member}`);
    await expect(grantReader(db, audit, { role: member, projects: [], actor })).rejects.toThrow(/is a member of the service's role/);
    await expect(grantReader(db, audit, { role: roleName('nopass'), projects: [], actor })).rejects.toThrow(/set Z4J_ALERTING_PASSWORD to have it created/);
    await expect(grantReader(db, audit, { role: 'Grafana; DROP TABLE tasks', projects: [], actor })).rejects.toThrow(AlertingError);
    await expect(grantReader(db, audit, { role: roleName('unknown'), projects: ['nope', 'gone'], password: PASSWORD, actor })).rejects.toThrow('no project "nope", "gone"');
    const all = roleName('wide');
    roles.push(all);
    await grantReader(db, audit, { role: all, projects: [], password: PASSWORD, actor });
    await expect(revokeReader(db, audit, { role: all, projects: ['payments'], actor })).rejects.toThrow(/reads every project/);
  });

  it('grants a role an administrator made, without touching its password', async () => {
    const role = roleName('made');
    roles.push(role);
    await db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
    expect(await grantReader(db, audit, { role, projects: ['default'], password: 'another-password-2', actor })).toEqual({ created: false, added: ['default'] });
    const client = await connectAs(role); // still its own password
    expect((await client.query('SELECT DISTINCT project FROM z4j_alerting.tasks')).rows).toEqual([{ project: 'default' }]);
  });
});

describe('alerting readers on PGlite', () => {
  it('are refused: Grafana cannot connect to embedded storage', async () => {
    const db = await openTestDb('pglite', 'alerting');
    try {
      const audit = new AuditLog(db, new AuditKeyRing([{ id: 1, key: randomBytes(32) }]));
      await expect(grantReader(db, audit, { role: 'grafana_z4j', projects: [], password: PASSWORD, actor })).rejects.toThrow(/embedded storage \(PGlite\).*DATABASE_URL/);
      // The views exist there too (one schema for both storages), reading nothing.
      expect((await db.query('SELECT count(*)::int AS n FROM z4j_alerting.tasks')).rows).toEqual([{ n: 0 }]);
    } finally {
      await db.close();
    }
  });
});
