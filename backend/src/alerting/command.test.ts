import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { openPostgres } from '../db/postgres.js';
import { createTestDatabase } from '../../test/helpers/storage.js';
import { alertingCommand } from './command.js';

describe('z4j alerting', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'z4j-alerting-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await alertingCommand(loadConfig({ Z4J_DATA_DIR: dataDir, Z4J_LOG_LEVEL: 'silent', ...env }), args, (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  }

  it('shows its usage for a wrong call, exit 2', async () => {
    for (const args of [[], ['grant'], ['grant', 'r', '--project'], ['grant', 'r', 'extra'], ['list', 'x'], ['drop', 'r']]) {
      expect(await run(args)).toEqual({ code: 2, out: expect.stringContaining('alerting grant <role> [--project <slug>]...') });
    }
  });

  it('refuses embedded storage with the reason, exit 2', async () => {
    expect(await run(['grant', 'grafana_z4j'])).toEqual({ code: 2, out: expect.stringMatching(/^z4j alerting: .*embedded storage \(PGlite\)/) });
  });

  it('grants, lists and revokes on PostgreSQL', async () => {
    const url = await createTestDatabase('alerting_cli');
    const role = `z4j_test_cli_${process.pid}`;
    const env = { DATABASE_URL: url, Z4J_ALERTING_PASSWORD: 'reader-password-1' };
    try {
      expect(await run(['grant', role, '--project', 'default'], env)).toEqual({
        code: 0, out: `created role ${role} (LOGIN, no other right)\n${role} may read z4j_alerting.* of default`,
      });
      expect(await run(['grant', role, '--project', 'default'], env)).toEqual({
        code: 0, out: `role ${role} exists: its password is left as it is (ALTER ROLE to change it)\n${role} could already read z4j_alerting.* of default`,
      });
      expect(await run(['list'], env)).toEqual({ code: 0, out: expect.stringMatching(new RegExp(`^${role}: default \\(granted .* by cli:`)) });
      expect(await run(['revoke', role], env)).toEqual({
        code: 0, out: `${role} no longer reads default\n${role} has no grant left and no right on z4j_alerting; the role itself is kept (DROP ROLE ${role} removes it)`,
      });
      expect(await run(['list'], env)).toEqual({ code: 0, out: 'no role may read the alerting views (z4j alerting grant <role>)' });
    } finally {
      const db = openPostgres(url);
      await db.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await db.query(`DROP ROLE IF EXISTS ${role}`);
      await db.close();
    }
  });
});
