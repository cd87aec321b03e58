// Entry point of the service: configuration, start, graceful stop on SIGINT / SIGTERM.
import { ConfigError, loadConfig, misspelledSettings } from './config.js';
import { UnsupportedDatabaseError } from './db/migrate.js';
import { startBanner } from './banner.js';
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
  const actsOn = [...service.actions.drivers.values()].filter((d) => !d.notConfigured).map((d) => d.engine);
  process.stdout.write(startBanner(config, { url: service.url, proxySecretSource: service.auth.proxySecret.source, actsOn }));
  const shutdown = (signal: string) => {
    service.log.info({ signal }, 'stopping');
    service.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
