// The "z4j alerting" data source and the example alert rules cannot meet a Grafana here (none can
// be installed), so what Grafana would hold against them is checked instead: the data source logs
// in as the role docker-compose.yml grants, to the service's database; every example rule has the
// shape Grafana's file provisioning accepts (a refused rule stops Grafana's start); and each
// rule's SQL, run as that role on the views, returns what Grafana makes alerts of (one number
// column, text labels, one row per alert) for the tasks it is meant to catch, and none otherwise.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parse } from 'yaml';
import { grantReader } from '../src/alerting/readers.js';
import { AuditLog } from '../src/audit/chain.js';
import { AuditKeyRing } from '../src/audit/keys.js';
import type { Db } from '../src/db/db.js';
import { migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres.js';
import { readCompose, readRepoFile as read, withComposeDefaults as withDefault } from './helpers/compose.js';
import { createTestDatabase } from './helpers/storage.js';

interface Datasource { name: string; type: string; uid: string; url?: string; user?: string; jsonData?: { database?: string }; secureJsonData?: { password?: string } }
interface Query { refId: string; datasourceUid: string; relativeTimeRange?: { from: number; to: number }; model: Record<string, unknown> }
interface Rule {
  uid: string; title: string; condition: string; data: Query[]; noDataState: string; execErrState: string; for: string;
  labels?: Record<string, string>; annotations?: Record<string, string>;
}
interface RulesFile { apiVersion: number; groups: { orgId: number; name: string; folder: string; interval: string; rules: Rule[] }[] }

const compose = readCompose<{
  services: Record<string, { environment?: Record<string, string>; command?: string[]; image?: string }>;
}>();
const { datasources } = parse(read('provisioning/datasources/z4j.yaml')) as { datasources: Datasource[] };
const alerting = datasources.find((d) => d.type === 'grafana-postgresql-datasource')!;
const rulesFile = parse(read('provisioning/alerting-examples/z4j-alert-rules.yaml')) as RulesFile;
const rules = rulesFile.groups.flatMap((g) => g.rules);
/** Grafana's durations: 1m, 30s, 1h30m; "0s" for none. */
const seconds = (d: string) => {
  const parts = [...d.matchAll(/(\d+)(h|m|s)/g)];
  expect(parts.map((p) => p[0]).join('')).toBe(d);
  return parts.reduce((s, [, n, unit]) => s + Number(n) * { h: 3600, m: 60, s: 1 }[unit as 'h' | 'm' | 's'], 0);
};

describe('the "z4j alerting" data source', () => {
  it('logs in as the role docker-compose.yml grants, with the password both are given, to the service database', () => {
    expect(alerting).toMatchObject({ uid: 'z4j-alerting', url: 'postgres:5432', user: 'z4j_grafana', secureJsonData: { password: '$Z4J_ALERTING_PASSWORD' } });
    const service = compose.services.service!;
    const databaseUrl = new URL(withDefault(service.environment!.DATABASE_URL!));
    expect(`${databaseUrl.hostname}:${databaseUrl.port}`).toBe(alerting.url);
    expect(databaseUrl.pathname).toBe(`/${alerting.jsonData!.database}`);
    expect(compose.services.postgres!.image).toMatch(/^postgres:/);
    // The service's start grants the role first, then runs what the image would have.
    const command = service.command!.join(' ');
    expect(command).toContain(`node backend/dist/cli.js alerting grant ${alerting.user} && exec `);
    const cmd = /^CMD (\[.*\])$/m.exec(read('backend/Dockerfile'))![1]!;
    expect(command.endsWith((JSON.parse(cmd) as string[]).join(' '))).toBe(true);
    expect(service.environment!.Z4J_ALERTING_PASSWORD).toBe(compose.services.grafana!.environment!.Z4J_ALERTING_PASSWORD);
  });
});

describe('the example alert rules', () => {
  it('have the shape Grafana provisions', () => {
    expect(rulesFile.apiVersion).toBe(1);
    for (const group of rulesFile.groups) {
      expect(group).toMatchObject({ orgId: 1, name: expect.any(String), folder: expect.stringMatching(/^[^/]+$/) });
      expect(seconds(group.interval) % 10).toBe(0); // a multiple of Grafana's base interval
      expect(seconds(group.interval)).toBeGreaterThan(0);
    }
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
    expect(new Set(rules.map((r) => r.title)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(rule.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(['NoData', 'Alerting', 'OK']).toContain(rule.noDataState);
      expect(['Error', 'Alerting', 'OK']).toContain(rule.execErrState);
      seconds(rule.for);
      const refIds = rule.data.map((q) => q.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      expect(refIds).toContain(rule.condition);
      for (const q of rule.data) {
        expect(q.model.refId).toBe(q.refId);
        if (q.datasourceUid === '__expr__') {
          expect(q.model).toMatchObject({ type: 'threshold', conditions: [{ evaluator: { type: expect.stringMatching(/^(gt|lt)$/), params: [expect.any(Number)] } }] });
          expect((q.model.conditions as unknown[]).length).toBe(1);
          expect(refIds).toContain(q.model.expression);
        } else {
          expect(q.datasourceUid).toBe(alerting.uid);
          expect(q.relativeTimeRange).toEqual({ from: expect.any(Number), to: 0 });
          expect(Number.isInteger(q.relativeTimeRange!.from) && q.relativeTimeRange!.from > 0).toBe(true);
          // Table, or Grafana takes the result for a time series (its default), which needs a time column.
          expect(q.model).toMatchObject({ format: 'table', rawQuery: true, editorMode: 'code', rawSql: expect.any(String) });
        }
      }
    }
    expect(rules.map((r) => r.uid)).toEqual(['z4j-failed-tasks', 'z4j-tasks-waiting', 'z4j-queue-depth', 'z4j-agent-drops', 'z4j-schedule-failed']);
  });

  describe('run as the data source on PostgreSQL', () => {
    let db: Db;
    let reader: pg.Client;
    const role = `z4j_test_grafana_${randomBytes(3).toString('hex')}`;
    const password = 'grafana-reader-1';

    beforeAll(async () => {
      const url = await createTestDatabase('alerting_rules');
      db = openPostgres(url);
      await migrate(db);
      await grantReader(db, new AuditLog(db, new AuditKeyRing([{ id: 1, key: randomBytes(32) }])), {
        role, projects: [], password, actor: { kind: 'system', id: 'test', name: 'test' },
      });
      await db.query(`INSERT INTO projects (slug, name) VALUES ('payments', 'Payments')`);
      const u = new URL(url);
      u.username = role;
      u.password = password;
      reader = new pg.Client({ connectionString: u.toString() });
      await reader.connect();
    });
    afterAll(async () => {
      await reader?.end();
      if (db) {
        await db.query(`DROP OWNED BY ${role}`);
        await db.query(`DROP ROLE ${role}`);
        await db.close();
      }
    });

    /** What Grafana would alert on: the rule's rows where its threshold holds, as label sets and values. */
    async function alerts(uid: string): Promise<Record<string, string | number>[]> {
      const rule = rules.find((r) => r.uid === uid)!;
      const query = rule.data.find((q) => q.datasourceUid !== '__expr__')!;
      const threshold = rule.data.find((q) => q.refId === rule.condition)!.model as { conditions: { evaluator: { type: string; params: number[] } }[] };
      const result = await reader.query({ text: query.model.rawSql as string, rowMode: 'array' });
      // One float8 column (OID 701), the others text (25): Grafana's "number set".
      const types = result.fields.map((f) => f.dataTypeID);
      expect(types.filter((t) => t === 701)).toHaveLength(1);
      expect(types.filter((t) => t !== 701).every((t) => t === 25)).toBe(true);
      const rows = (result.rows as unknown[][]).map((row) => Object.fromEntries(result.fields.map((f, i) => [f.name, row[i] as string | number])));
      const value = result.fields[types.indexOf(701)]!.name;
      const labels = rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => k !== value)));
      expect(new Set(labels).size).toBe(labels.length); // one alert per label set
      for (const r of rows) for (const [k, v] of Object.entries(r)) if (k !== value) expect(typeof v).toBe('string'); // no NULL label
      const { type, params } = threshold.conditions[0]!.evaluator;
      // In label order: Grafana keeps no order, and a GROUP BY gives none.
      return rows
        .filter((r) => (type === 'gt' ? Number(r[value]) > params[0]! : Number(r[value]) < params[0]!))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }

    const task = (project: string, id: string, state: string, queue: string | null, firstSeen: string, stateAt: string, eta: string | null = null) =>
      db.query(
        `INSERT INTO tasks (project_id, engine, task_id, name, queue, state, attempt_at, state_at, first_seen_at, last_event_at, eta)
         SELECT id, 'celery', $2, 'app.job', $4, $3, now() - $5::interval, now() - $6::interval, now() - $5::interval, now(), now() - $7::interval
           FROM projects WHERE slug = $1`,
        [project, id, state, queue, firstSeen, stateAt, eta],
      );

    it('say nothing while all is well', async () => {
      await task('default', 'ok-1', 'succeeded', 'q1', '2 minutes', '1 minute');
      await task('default', 'waiting-fresh', 'enqueued', 'q1', '1 minute', '1 minute');
      for (const rule of rules) expect({ [rule.uid]: await alerts(rule.uid) }).toEqual({ [rule.uid]: [] });
    });

    it('alert on tasks that failed in the last 5 minutes, per queue, not on older failures', async () => {
      await task('default', 'f1', 'failed', 'q1', '3 minutes', '2 minutes');
      await task('default', 'f2', 'failed', 'q1', '50 minutes', '1 minute'); // ran long, failed just now
      await task('payments', 'f3', 'failed', null, '1 minute', '1 minute');
      await task('default', 'f-old', 'failed', 'q1', '30 minutes', '20 minutes');
      expect(await alerts('z4j-failed-tasks')).toEqual([
        { project: 'default', engine: 'celery', queue: 'q1', failed: 2 },
        { project: 'payments', engine: 'celery', queue: '', failed: 1 },
      ]);
    });

    it('alert on due tasks nobody took for 10 minutes, not on those held for an eta', async () => {
      await task('default', 'w1', 'enqueued', 'q2', '15 minutes', '15 minutes');
      await task('default', 'w-eta', 'enqueued', 'q2', '15 minutes', '15 minutes', '-1 hour'); // due in an hour
      expect(await alerts('z4j-tasks-waiting')).toEqual([{ project: 'default', engine: 'celery', queue: 'q2', waiting: 1 }]);
    });

    it('alert on a deep queue and on an agent that dropped events', async () => {
      await db.query(`INSERT INTO queues (project_id, engine, name, first_seen_at, last_seen_at, depth, depth_at)
                      VALUES (1, 'rq', 'big', now(), now(), 5000, now()), (1, 'rq', 'small', now(), now(), 10, now()),
                             (1, 'rq', 'stale', now(), now(), 9000, now() - interval '1 hour')`);
      await db.query(`INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at, dropped)
                      VALUES (1, 'rq', 'w1@h', true, now(), now(), 12), (1, 'rq', 'w2@h', true, now(), now(), 0),
                             (1, 'rq', 'w3@h', false, now(), now(), 40)`);
      expect(await alerts('z4j-queue-depth')).toEqual([{ project: 'default', engine: 'rq', queue: 'big', depth: 5000 }]);
      expect(await alerts('z4j-agent-drops')).toEqual([{ project: 'default', engine: 'rq', worker: 'w1@h', dropped: 12 }]);
    });

    it('alert on a schedule whose send failed or that missed cron times lately, not on one that sent', async () => {
      for (const name of ['nightly', 'hourly', 'healthy', 'old-failure']) {
        await db.query(
          `INSERT INTO schedules (id, project_id, name, engine, task_name, sealed_call, cron, next_run_at, created_by, updated_by)
           VALUES ($1, 1, $2, 'celery', 'app.report', '\\x00', '@hourly', now(), 'test', 'test')`,
          [`sch_${name}`, name],
        );
      }
      const run = (schedule: string, state: string, firedAgo: string, missed = 0) =>
        db.query(`INSERT INTO schedule_runs (schedule_id, project_id, trigger, due_at, fired_at, state, missed)
                  VALUES ($1, 1, 'cron', now() - $3::interval, now() - $3::interval, $2, $4)`, [`sch_${schedule}`, state, firedAgo, missed]);
      await run('nightly', 'failed', '2 minutes');
      await run('hourly', 'sent', '1 minute', 3); // sent, after three missed while the service was down
      await run('healthy', 'sent', '1 minute');
      await run('old-failure', 'failed', '2 hours');
      expect(await alerts('z4j-schedule-failed')).toEqual([
        { project: 'default', schedule: 'hourly', engine: 'celery', failed_or_missed: 3 },
        { project: 'default', schedule: 'nightly', engine: 'celery', failed_or_missed: 1 },
      ]);
    });
  });
});
