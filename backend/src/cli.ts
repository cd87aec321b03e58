#!/usr/bin/env node
// `z4j <command>`: operations on the service's storage without starting the service.
import { ALERTING_USAGE, alertingCommand } from './alerting/command.js';
import { auditVerify } from './audit/verifyCommand.js';
import { ConfigError, loadConfig, settings } from './config.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/open.js';
import { capabilityMatrixMarkdown } from './engines/driver.js';
import { declaredDrivers } from './engines/registry.js';

const USAGE = `usage: z4j <command>
  migrate      apply pending database migrations and exit
  config       print every configuration variable with its default and meaning
  capabilities print the engine capability matrix (Markdown, as in the README)
  audit verify [--project <slug>]
               verify the audit chain of every project (or one); exit 1 if one is broken
${ALERTING_USAGE}`;

async function run(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'migrate': {
      const config = loadConfig();
      const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.Z4J_DATA_DIR });
      try {
        const applied = await migrate(db);
        process.stdout.write(applied.length ? `applied migrations ${applied.join(', ')}\n` : 'database is up to date\n');
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'config':
      for (const [name, [schema, doc]] of Object.entries(settings)) {
        const d = (schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(undefined);
        process.stdout.write(`${name}=${d.success && d.data !== undefined ? JSON.stringify(d.data) : ''}\n    ${doc}\n`);
      }
      return 0;
    case 'capabilities':
      process.stdout.write(capabilityMatrixMarkdown(declaredDrivers()));
      return 0;
    case 'audit':
      if (process.argv[3] === 'verify') return auditVerify(loadConfig(), process.argv.slice(4));
      process.stderr.write(`${USAGE}\n`);
      return 2;
    case 'alerting':
      return alertingCommand(loadConfig(), process.argv.slice(3));
    default:
      process.stderr.write(`${USAGE}\n`);
      return cmd ? 2 : 0;
  }
}

run(process.argv[2]).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`z4j: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
