// A PostgreSQL database of a benchmark's own on the test server, created empty and dropped after.
import { parseArgs } from 'node:util';
import pg from 'pg';

/** Connects to the server as `pgUrl` says, or says how to start it. */
export async function adminClient(pgUrl) {
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect().catch((err) => {
    throw new Error(`PostgreSQL not reachable at ${pgUrl}: ${err.message}. Run: bash scripts/services.sh start`);
  });
  return admin;
}

/** Creates the database `name` (dropping those a crashed run of the same prefix left) and returns its URL. */
export async function createBenchDatabase(admin, pgUrl, name, leftoverPrefix) {
  if (leftoverPrefix) {
    for (const { datname } of (await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${leftoverPrefix}%`])).rows) {
      await admin.query(`DROP DATABASE ${datname} WITH (FORCE)`);
    }
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A benchmark of the built service's storage on a database of its own, migrated: its options
 * (`--tasks` defaulting to `defaultTasks`, `--dist`, `--pg-url`, `--keep`), the service's dist
 * directory to import from, and `close()`, which drops the database unless `--keep`.
 */
export async function openBenchDatabase(label, defaultTasks) {
  const { values: opt } = parseArgs({
    options: {
      tasks: { type: 'string', default: String(defaultTasks) },
      dist: { type: 'string', default: new URL('../../backend/dist', import.meta.url).pathname },
      'pg-url': { type: 'string', default: process.env.Z4J_TEST_DATABASE_URL ?? 'postgres://z4j:z4j@127.0.0.1:5432/z4j' },
      keep: { type: 'boolean', default: false },
    },
  });
  const { openPostgres } = await import(`${opt.dist}/db/postgres.js`);
  const { migrate } = await import(`${opt.dist}/db/migrate.js`);
  const admin = await adminClient(opt['pg-url']);
  const prefix = `z4j_bench_${label}_`;
  const name = `${prefix}${process.pid}`;
  const db = openPostgres(await createBenchDatabase(admin, opt['pg-url'], name, opt.keep ? undefined : prefix));
  await migrate(db);
  return {
    tasks: Number(opt.tasks),
    dist: opt.dist,
    db,
    async close() {
      await db.close();
      if (!opt.keep) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
