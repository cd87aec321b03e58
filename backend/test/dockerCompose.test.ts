// docker-compose.yml cannot be run here (no Docker engine), so what can go stale in it without a
// Docker run noticing is checked instead: the service's environment is settings the service
// knows and accepts, every build context, Dockerfile, requirements file and demo script it
// names exists, and Grafana loads and provisions the plugin under the plugin's own ids.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { trends, trendsQuery } from '../src/api/trends.js';
import { loadConfig, misspelledSettings, settings } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { openPglite } from '../src/db/pglite.js';
import { ROOT, readCompose, readRepoFile as read, withComposeDefaults as withDefaults } from './helpers/compose.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | number>;
  command?: string[] | string;
  volumes?: string[];
}

describe('docker-compose.yml', () => {
  const compose = readCompose<{ services: Record<string, ComposeService> }>();
  const services = compose.services;

  it("gives the service settings it knows, which it accepts as they are", () => {
    const env = Object.fromEntries(Object.entries(services.service!.environment!).map(([k, v]) => [k, withDefaults(v)]));
    expect(Object.keys(env).filter((name) => !(name in settings))).toEqual([]);
    expect(misspelledSettings(env)).toEqual([]);
    const config = loadConfig(env);
    expect(config.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(config.Z4J_CELERY_BROKERS).toHaveLength(2);
    // Its data directory (the generated seal and audit keys) is on a volume.
    expect(services.service!.volumes).toContain('service-data:/app/data');
    expect(read('backend/Dockerfile')).toMatch(/Z4J_DATA_DIR=\/app\/data/);
  });

  it('names build contexts, Dockerfiles, requirements and demo scripts that exist', () => {
    const missing: string[] = [];
    const need = (what: string, path: string) => existsSync(join(ROOT, path)) || missing.push(`${what}: ${path}`);
    need('service Dockerfile', services.service!.build!.dockerfile!);
    for (const [name, s] of Object.entries(services)) {
      if (!s.build) continue;
      need(`${name} context`, s.build.context);
      const engine = s.build.args?.ENGINE;
      if (!engine) continue;
      need(`${name} requirements`, `requirements/${engine}.txt`);
      const command = Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');
      for (const script of command.match(/\b\w+\.py\b/g) ?? []) need(`${name} script`, join(s.build.context, script));
      // `tasks` as a module (celery -A tasks, dramatiq tasks, tasks.huey, tasks:broker, tasks.WorkerSettings).
      if (/\btasks\b/.test(command)) need(`${name} tasks module`, join(s.build.context, 'tasks.py'));
    }
    expect(missing).toEqual([]);
    const pyproject = read('agent/pyproject.toml');
    const engines = Object.values(services).flatMap((s) => (s.build?.args?.ENGINE ? [s.build.args.ENGINE] : []));
    expect(new Set(engines)).toEqual(new Set(['celery', 'rq', 'dramatiq', 'huey', 'arq', 'taskiq']));
    for (const engine of engines) expect(pyproject).toMatch(new RegExp(`^${engine}\\s*=`, 'm')); // the agent's extra
  });

  it("loads and provisions the plugin under the plugin's own ids", () => {
    const appId = (JSON.parse(read('plugin/src/plugin.json')) as { id: string }).id;
    const datasourceId = (JSON.parse(read('plugin/src/datasource/plugin.json')) as { id: string }).id;
    const grafana = services.grafana!;
    expect(String(grafana.environment!.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS).split(',').sort()).toEqual([appId, datasourceId].sort());
    expect(grafana.volumes).toContain(`./plugin/dist:/var/lib/grafana/plugins/${appId}:ro`);
    const provisioned = parse(read('provisioning/plugins/z4j.yaml')) as { apps: { type: string; jsonData: { serviceUrl: string } }[] };
    expect(provisioned.apps.map((a) => a.type)).toEqual([appId]);
    expect(provisioned.apps[0]!.jsonData.serviceUrl).toBe(`http://service:${services.service!.environment!.PORT}`);
    // The proxy secret Grafana sends is the one the service expects.
    expect(grafana.environment!.Z4J_PROXY_SECRET).toBe(services.service!.environment!.Z4J_PROXY_SECRET);
  });

  it('provisions the trends data source, and example dashboards whose every query the service answers', async () => {
    const datasourceId = (JSON.parse(read('plugin/src/datasource/plugin.json')) as { id: string }).id;
    const provisioned = parse(read('provisioning/datasources/z4j.yaml')) as { datasources: { type: string; uid: string }[] };
    // Beside it, Grafana's PostgreSQL data source for alert rules (alertingProvisioning.test.ts).
    expect(provisioned.datasources.map((d) => d.type)).toEqual([datasourceId, 'grafana-postgresql-datasource']);
    const datasources = provisioned.datasources.filter((d) => d.type === datasourceId);
    const { providers } = parse(read('provisioning/dashboards/z4j.yaml')) as { providers: { options: { path: string } }[] };
    // The compose file mounts provisioning/ at /etc/grafana/provisioning.
    expect(services.grafana!.volumes).toContain('./provisioning:/etc/grafana/provisioning:ro');
    const folder = providers[0]!.options.path.replace(/^\/etc\/grafana\/provisioning\//, 'provisioning/');
    const files = readdirSync(join(ROOT, folder)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);

    const db = await openPglite('memory://');
    try {
      await migrate(db);
      const project = (await db.query<{ id: number }>(`SELECT id FROM projects WHERE slug = 'default'`)).rows[0]!;
      let queries = 0;
      for (const file of files) {
        interface Target { refId: string; datasource: { uid: string }; [field: string]: unknown }
        const dashboard = JSON.parse(read(join(folder, file))) as {
          panels: { title: string; datasource: { type: string; uid: string }; targets: Target[] }[];
          templating: { list: { name: string; current: { value: string } }[] };
        };
        const variables = new Map(dashboard.templating.list.map((v) => [v.name, v.current.value]));
        for (const panel of dashboard.panels) {
          expect({ panel: panel.title, datasource: panel.datasource }).toEqual({ panel: panel.title, datasource: { type: datasourceId, uid: datasources[0]!.uid } });
          for (const { refId, datasource, ...fields } of panel.targets) {
            expect(datasource.uid).toBe(datasources[0]!.uid);
            // As the data source asks (DataSource.trendsParams): variables replaced, empty filters left out.
            const params = Object.fromEntries(
              Object.entries(fields)
                .map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\$(\w+)/g, (_, name: string) => variables.get(name) ?? '') : v])
                .filter(([, v]) => v !== ''),
            );
            const q = trendsQuery.parse({ ...params, from: '2026-12-07T00:00:00Z', to: '2026-12-07T06:00:00Z', maxPoints: '1000', intervalMs: '60000' });
            await expect(trends(db, project.id, q)).resolves.toMatchObject({ metric: q.metric });
            queries += 1;
          }
        }
      }
      expect(queries).toBeGreaterThanOrEqual(4);
    } finally {
      await db.close();
    }
  });
});
