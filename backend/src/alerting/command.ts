// `z4j alerting grant|revoke|list`: which database roles Grafana's alert rules may read z4j's
// tasks through (readers.ts), from the command line, where an operator manages database roles.
import { userInfo } from 'node:os';
import { pino } from 'pino';
import { AuditLog } from '../audit/chain.js';
import type { AuditActor } from '../audit/chain.js';
import { auditKeysFromConfig } from '../audit/keys.js';
import type { Config } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { ALERTING_SCHEMA, AlertingError, grantReader, listReaders, revokeReader } from './readers.js';

export const ALERTING_USAGE = `  alerting grant <role> [--project <slug>]...
               let a database role (Grafana's PostgreSQL data source) read the alerting views of
               these projects (no --project: every project); created when missing if
               Z4J_ALERTING_PASSWORD is set
  alerting revoke <role> [--project <slug>]...
               take those grants back (no --project: all of the role's)
  alerting list
               the roles granted, and what`;

/** Runs the subcommand; returns the exit code (2: bad usage or a refusal, printed). */
export async function alertingCommand(config: Config, args: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const [sub, ...rest] = args;
  const parsed = sub === 'grant' || sub === 'revoke' ? parseRoleArgs(rest) : sub === 'list' && !rest.length ? { role: '', projects: [] } : null;
  if (!parsed) {
    out(`usage:\n${ALERTING_USAGE}`);
    return 2;
  }
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.Z4J_DATA_DIR });
  try {
    await migrate(db);
    if (sub === 'list') {
      const grants = await listReaders(db);
      if (!grants.length) out('no role may read the alerting views (z4j alerting grant <role>)');
      for (const g of grants) {
        out(`${g.role}: ${g.project ?? 'every project'} (granted ${g.grantedAt.toISOString()} by ${g.grantedBy})${g.roleMissing ? ' [the role no longer exists]' : ''}`);
      }
      return 0;
    }
    const audit = new AuditLog(db, auditKeysFromConfig(config, pino({ level: 'warn' })));
    const actor = commandLineActor();
    if (sub === 'grant') {
      const r = await grantReader(db, audit, { ...parsed, password: config.Z4J_ALERTING_PASSWORD, actor });
      if (r.created) out(`created role ${parsed.role} (LOGIN, no other right)`);
      else if (config.Z4J_ALERTING_PASSWORD) out(`role ${parsed.role} exists: its password is left as it is (ALTER ROLE to change it)`);
      const scope = parsed.projects.length ? parsed.projects.join(', ') : 'every project';
      out(r.added.length ? `${parsed.role} may read ${ALERTING_SCHEMA}.* of ${scope}` : `${parsed.role} could already read ${ALERTING_SCHEMA}.* of ${scope}`);
      return 0;
    }
    const r = await revokeReader(db, audit, { ...parsed, actor });
    out(`${parsed.role} no longer reads ${r.removed.map((p) => (p === '*' ? 'every project' : p)).join(', ')}`);
    if (r.none) out(`${parsed.role} has no grant left and no right on ${ALERTING_SCHEMA}; the role itself is kept (DROP ROLE ${parsed.role} removes it)`);
    return 0;
  } catch (err) {
    if (!(err instanceof AlertingError)) throw err;
    out(`z4j alerting: ${err.message}`);
    return 2;
  } finally {
    await db.close();
  }
}

function parseRoleArgs(args: string[]): { role: string; projects: string[] } | null {
  const [role, ...rest] = args;
  if (!role || role.startsWith('-')) return null;
  const projects: string[] = [];
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] !== '--project' || !rest[i + 1]) return null;
    projects.push(rest[i + 1]!);
  }
  return { role, projects };
}

/** Who ran the command, as the audit chain names them: the operating system's user. */
function commandLineActor(): AuditActor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container's arbitrary uid): still audited, as unknown
  }
  return { kind: 'system', id: `cli:${user}`, name: 'z4j alerting (command line)' };
}
