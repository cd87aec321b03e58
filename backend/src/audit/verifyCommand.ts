// `z4j audit verify [--project <slug>]`: verifies audit chains straight from storage.
import { pino } from 'pino';
import { ConfigError, type Config } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { AuditLog } from './chain.js';
import { auditKeysFromConfig } from './keys.js';

/** Verifies audit chains; prints one line per project and returns the exit code. */
export async function auditVerify(config: Config, args: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const i = args.indexOf('--project');
  const only = i >= 0 ? args[i + 1] : undefined;
  if (i >= 0 && !only) throw new ConfigError('--project needs a project slug');
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.Z4J_DATA_DIR });
  try {
    await migrate(db);
    const audit = new AuditLog(db, auditKeysFromConfig(config, pino({ level: 'warn' })));
    const projects = (await db.query<{ id: number; slug: string }>(
      'SELECT id, slug FROM projects WHERE ($1::text IS NULL OR slug = $1) ORDER BY slug', [only ?? null],
    )).rows;
    if (only && !projects.length) {
      out(`no project '${only}'`);
      return 2;
    }
    let broken = 0;
    for (const p of projects) {
      const r = await audit.verify(Number(p.id));
      if (r.ok) out(`${p.slug}: ok (${r.checked} rows verified, last seq ${r.lastSeq}${r.prunedThroughSeq ? `, pruned through ${r.prunedThroughSeq}` : ''})`);
      else {
        broken++;
        out(`${p.slug}: BROKEN at seq ${r.firstBroken!.seq ?? '-'}${r.firstBroken!.id ? ` (row id ${r.firstBroken!.id})` : ''}: ${r.firstBroken!.reason}`);
      }
    }
    return broken ? 1 : 0;
  } finally {
    await db.close();
  }
}
