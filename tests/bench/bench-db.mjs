// A PostgreSQL database of a benchmark's own on the test server, created empty and dropped after.
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
