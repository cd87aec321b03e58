// docker-compose.yml cannot be run here (no Docker engine), so what can go stale in it without a
// Docker run noticing is checked instead: the service's environment is settings the service
// knows and accepts, every build context, Dockerfile, requirements file and demo script it
// names exists, and Grafana loads and provisions the plugin under the plugin's own ids.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, misspelledSettings, settings } from '../src/config.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | number>;
  command?: string[] | string;
  volumes?: string[];
}

/** `${NAME:-default}` as Compose substitutes it with NAME unset. */
const withDefaults = (value: string | number) => String(value).replace(/\$\{\w+:-([^}]*)\}/g, '$1');

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
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
});
