// The database roles Grafana's PostgreSQL data source logs in as, to evaluate alert rules on
// z4j's tasks: each may read the views of the z4j_alerting schema (migration 0036), for the
// projects granted to it, and nothing else. Granted and revoked from the command line (`z4j
// alerting`), each change audited in the chains of the projects it touches.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AuditActor, AuditLog } from '../audit/chain.js';
import type { Db, Queryable } from '../db/db.js';
import { sqlState } from '../db/db.js';

export const ALERTING_SCHEMA = 'z4j_alerting';

/** A refusal to show as it is (a bad name, a missing role, a right the service's role lacks). */
export class AlertingError extends Error {}

/** Roles as PostgreSQL folds unquoted names: a name the data source's settings take as typed. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ReaderGrant {
  role: string;
  /** null: every project, those made later too. */
  project: string | null;
  grantedAt: Date;
  grantedBy: string;
  /** The role is gone from the server (dropped since): the grant reads nothing. */
  roleMissing: boolean;
}

export interface GrantRequest {
  role: string;
  /** Project slugs; empty: every project. */
  projects: string[];
  /** Creates the role (LOGIN, no other right) when it does not exist; an existing role's is left as it is. */
  password?: string;
  actor: AuditActor;
}

export interface GrantOutcome {
  created: boolean;
  /** The projects newly granted ('*' for every project); empty when all were granted already. */
  added: string[];
}

export async function grantReader(db: Db, audit: AuditLog, req: GrantRequest): Promise<GrantOutcome> {
  refuseEmbedded(db);
  checkRoleName(req.role);
  return db.transaction(async (tx) => {
    const projects = await projectIds(tx, req.projects);
    const created = await ensureRole(tx, req.role, req.password);
    // Future views of the schema (a later migration, made by this same role) are readable too.
    await tx.query(`GRANT USAGE ON SCHEMA ${ALERTING_SCHEMA} TO ${ident(req.role)}`);
    await tx.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ALERTING_SCHEMA} TO ${ident(req.role)}`);
    await tx.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${ALERTING_SCHEMA} GRANT SELECT ON TABLES TO ${ident(req.role)}`);
    const added: string[] = [];
    // A role that reads every project already reads each one: no row of its own to add.
    const readsAll = (await tx.query('SELECT 1 FROM alerting_readers WHERE role_name = $1 AND project_id IS NULL', [req.role])).rows.length > 0;
    for (const p of readsAll ? [] : projects.length ? projects : [null]) {
      const inserted = await tx.query(
        `INSERT INTO alerting_readers (role_name, project_id, granted_by) VALUES ($1, $2, $3)
         ON CONFLICT (role_name, coalesce(project_id, 0)) DO NOTHING RETURNING 1`,
        [req.role, p?.id ?? null, by(req.actor)],
      );
      if (!inserted.rows.length) continue;
      added.push(p?.slug ?? '*');
      for (const id of p ? [p.id] : await liveProjectIds(tx)) {
        await audit.append({
          projectId: id, actor: req.actor, action: 'alerting.grant', target: `role:${req.role}`, outcome: 'ok',
          detail: { role: req.role, projects: p ? p.slug : 'every project', roleCreated: created },
        }, tx);
      }
    }
    return { created, added };
  });
}

export interface RevokeOutcome {
  /** The projects no longer granted ('*' for the grant of every project). */
  removed: string[];
  /** The role has no grant left: its rights on the schema were taken back too. */
  none: boolean;
}

/** Takes back the role's grants of these projects (all of its grants when none is named). The role itself is kept. */
export async function revokeReader(db: Db, audit: AuditLog, req: Omit<GrantRequest, 'password'>): Promise<RevokeOutcome> {
  refuseEmbedded(db);
  checkRoleName(req.role);
  return db.transaction(async (tx) => {
    const projects = await projectIds(tx, req.projects);
    const held = (await tx.query<{ project_id: number | null }>('SELECT project_id FROM alerting_readers WHERE role_name = $1', [req.role])).rows;
    if (!held.length) throw new AlertingError(`role ${req.role} has no z4j alerting grant`);
    if (projects.length && held.some((h) => h.project_id === null)) {
      throw new AlertingError(
        `role ${req.role} reads every project (granted without --project): revoke that grant (no --project), then grant the projects it should keep`,
      );
    }
    const ids = projects.length ? projects.map((p) => p.id) : null;
    const gone = (await tx.query<{ project_id: number | null; slug: string | null }>(
      `DELETE FROM alerting_readers r WHERE r.role_name = $1 AND ($2::int[] IS NULL OR r.project_id = ANY($2::int[]))
       RETURNING r.project_id, (SELECT slug FROM projects p WHERE p.id = r.project_id) AS slug`,
      [req.role, ids],
    )).rows;
    for (const g of gone) {
      for (const id of g.project_id === null ? await liveProjectIds(tx) : [g.project_id]) {
        await audit.append({
          projectId: id, actor: req.actor, action: 'alerting.revoke', target: `role:${req.role}`, outcome: 'ok',
          detail: { role: req.role, projects: g.slug ?? 'every project' },
        }, tx);
      }
    }
    const none = gone.length === held.length;
    if (none && (await roleExists(tx, req.role))) {
      await tx.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${ALERTING_SCHEMA} REVOKE SELECT ON TABLES FROM ${ident(req.role)}`);
      await tx.query(`REVOKE SELECT ON ALL TABLES IN SCHEMA ${ALERTING_SCHEMA} FROM ${ident(req.role)}`);
      await tx.query(`REVOKE USAGE ON SCHEMA ${ALERTING_SCHEMA} FROM ${ident(req.role)}`);
    }
    return { removed: gone.map((g) => g.slug ?? '*'), none };
  });
}

/** Every grant; with a project, those that let a role read it (its own, and those of every project). */
export async function listReaders(db: Queryable, projectId?: number): Promise<ReaderGrant[]> {
  const rows = await db.query<{ role: string; project: string | null; granted_at: Date; granted_by: string; missing: boolean }>(
    `SELECT r.role_name AS role, p.slug AS project, r.granted_at, r.granted_by,
            NOT EXISTS (SELECT 1 FROM pg_roles x WHERE x.rolname = r.role_name) AS missing
       FROM alerting_readers r LEFT JOIN projects p ON p.id = r.project_id
      WHERE $1::int IS NULL OR r.project_id IS NULL OR r.project_id = $1::int
      ORDER BY r.role_name, p.slug NULLS FIRST`,
    [projectId ?? null],
  );
  return rows.rows.map((r) => ({ role: r.role, project: r.project, grantedAt: new Date(r.granted_at), grantedBy: r.granted_by, roleMissing: r.missing }));
}

function refuseEmbedded(db: Db): void {
  if (db.storage === 'pglite') {
    throw new AlertingError(
      'the service keeps its data in embedded storage (PGlite), which Grafana cannot connect to: alerting needs the service on PostgreSQL (DATABASE_URL)',
    );
  }
}

function checkRoleName(role: string): void {
  if (!ROLE_NAME.test(role)) throw new AlertingError(`not a role name z4j grants to: ${JSON.stringify(role.slice(0, 80))} (lowercase letters, digits and _, up to 63, not starting with a digit)`);
}

async function projectIds(q: Queryable, slugs: string[]): Promise<{ id: number; slug: string }[]> {
  if (!slugs.length) return [];
  const found = (await q.query<{ id: number; slug: string }>('SELECT id, slug FROM projects WHERE slug = ANY($1::text[]) AND deleted_at IS NULL', [slugs])).rows;
  const unknown = slugs.filter((s) => !found.some((f) => f.slug === s));
  if (unknown.length) throw new AlertingError(`no project ${unknown.map((s) => JSON.stringify(s.slice(0, 80))).join(', ')}`);
  return found.map((f) => ({ id: Number(f.id), slug: f.slug }));
}

async function liveProjectIds(q: Queryable): Promise<number[]> {
  return (await q.query<{ id: number }>('SELECT id FROM projects WHERE deleted_at IS NULL ORDER BY id')).rows.map((r) => Number(r.id));
}

async function roleExists(q: Queryable, role: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rows.length > 0;
}

/**
 * The role, created when missing and a password is given. A role that could read past the views
 * (a superuser, the service's own, or a member of it, which has its rights) is refused: Grafana's
 * users would read every table through it.
 */
async function ensureRole(q: Queryable, role: string, password: string | undefined): Promise<boolean> {
  const found = (await q.query<{ rolsuper: boolean; self: boolean; member: boolean }>(
    `SELECT rolsuper, rolname = current_user AS self, pg_has_role(rolname, current_user, 'MEMBER') AS member
       FROM pg_roles WHERE rolname = $1`,
    [role],
  )).rows[0];
  if (found) {
    const why = found.self ? "is the service's own" : found.rolsuper ? 'is a superuser' : found.member ? "is a member of the service's role" : null;
    if (why) throw new AlertingError(`role ${role} ${why}: it reads every table, not only the views. Give Grafana a role of its own`);
    return false;
  }
  if (!password) {
    throw new AlertingError(`there is no database role ${role}: set Z4J_ALERTING_PASSWORD to have it created (LOGIN, no other right), or create it yourself (CREATE ROLE ${role} LOGIN PASSWORD '…')`);
  }
  try {
    await q.query(`CREATE ROLE ${ident(role)} LOGIN PASSWORD '${scramVerifier(password)}'`);
  } catch (err) {
    if (sqlState(err) === '42501') {
      throw new AlertingError(`the service's database role may not create roles: have an administrator run CREATE ROLE ${role} LOGIN PASSWORD '…', then run this again`);
    }
    throw err;
  }
  return true;
}

/**
 * The password as PostgreSQL stores it (SCRAM-SHA-256, RFC 5802 and 7677; what psql's \password
 * sends): the server takes it as already hashed, so the password in clear never reaches its
 * statement log. ASCII only (Z4J_ALERTING_PASSWORD), which SASLprep leaves as it is.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

// Role names are checked against ROLE_NAME first; quoting them anyway keeps a reserved word valid.
const ident = pg.escapeIdentifier;
const by = (actor: AuditActor) => actor.id ?? actor.name ?? actor.kind;
