// Entry point of the service: configuration, start, graceful stop on SIGINT / SIGTERM.
import { ConfigError, loadConfig, misspelledSettings } from './config.js';
import { UnsupportedDatabaseError } from './db/migrate.js';
import { ListenError, startService } from './service.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`z4j: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  for (const { name, meant } of misspelledSettings()) process.stderr.write(`z4j: ${name} is not a setting, and is ignored: did you mean ${meant}?\n`);
  const service = await startService(config).catch((err) => {
    const known = err instanceof UnsupportedDatabaseError || err instanceof ListenError || (err as { code?: string }).code === 'ECONNREFUSED';
    process.stderr.write(`z4j: cannot start: ${known ? (err as Error).message : String(err)}\n`);
    process.exit(1);
  });
  const where = config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.Z4J_DATA_DIR}`;
  process.stdout.write(
    `z4j service ${service.url} (storage: ${where})\n` +
      `  API:     ${service.url}/api/tasks   OpenAPI: ${service.url}/api/openapi.json   metrics: ${service.url}/metrics\n` +
      (config.Z4J_CELERY_BROKERS.length
        ? `  Celery:  consuming events from ${config.Z4J_CELERY_BROKERS.map((u) => u.replace(/\/\/[^@/]*@/, '//')).join(', ')}\n`
        : `  Celery:  set Z4J_CELERY_BROKERS=redis://localhost:6379/0 (or amqp://...) to observe your workers\n`) +
      (service.auth.proxySecret.source === 'Z4J_PROXY_SECRET'
        ? `  Grafana: proxy secret from Z4J_PROXY_SECRET\n`
        : `  Grafana: paste the proxy secret in ${service.auth.proxySecret.source} into the z4j app configuration page\n`),
  );
  const shutdown = (signal: string) => {
    service.log.info({ signal }, 'stopping');
    service.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
