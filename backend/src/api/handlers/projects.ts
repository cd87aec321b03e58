// Projects: list the caller's, create (Grafana server admin or an Owner of any project),
// show, rename (Admin), delete and transfer (Owner). A deleted project keeps its row and
// its audit chain; it stops answering, its tokens and agents stop working, its schedules are gone,
// its running bulk jobs are cancelled.
import { z } from 'zod';
import { auditRefusalOfNoProject, auditRequest } from '../../audit/record.js';
import { authOf, findProject, projectOfAuth, roleIn } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { Handler } from '../routes.js';
import { callerLabel, nameSchema, requireUser } from './identity.js';

const slugSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a lowercase slug (a-z, 0-9, -)');

async function projectsWithRoles(ctx: ApiContext, res: Parameters<Handler>[1]) {
  const { caller } = authOf(res);
  const slugs = (await ctx.db.query<{ slug: string }>('SELECT slug FROM projects WHERE deleted_at IS NULL ORDER BY slug')).rows;
  const out = [];
  for (const { slug } of slugs) {
    const p = await findProject(ctx, slug);
    const role = p ? await roleIn(ctx, caller, p) : null;
    if (p && role) out.push({ slug: p.slug, name: p.name, role });
  }
  return out;
}

export const listProjects = (ctx: ApiContext): Handler => async (_req, res) => {
  res.json({ projects: await projectsWithRoles(ctx, res) });
};

const createBody = z.object({ slug: slugSchema, name: nameSchema }).strict();

export const createProject = (ctx: ApiContext): Handler => async (req, res) => {
  const { user } = requireUser(authOf(res).caller);
  const body = createBody.parse(req.body);
  if (!user.isGrafanaAdmin && !(await projectsWithRoles(ctx, res)).some((p) => p.role === 'owner')) {
    await auditRefusalOfNoProject(ctx, req, res, 'project.create', `project:${body.slug}`);
    throw new ApiError(403, 'ROLE_TOO_LOW', 'creating a project needs a Grafana server admin or the Owner of a project');
  }
  const project = await ctx.db.transaction(async (tx) => {
    const row = (await tx.query<{ id: number }>(
      'INSERT INTO projects (slug, name) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING RETURNING id',
      [body.slug, body.name],
    )).rows[0];
    if (!row) throw new ApiError(409, 'PROJECT_EXISTS', `project '${body.slug}' already exists (or existed)`);
    const id = Number(row.id);
    await tx.query(
      `INSERT INTO memberships (project_id, user_id, login, email, name, role, created_by, set_by_owner) VALUES ($1, $2, $3, $4, $5, 'owner', $6, true)`,
      [id, user.userId, user.login, user.email, user.name, `user:${user.login}`],
    );
    await auditRequest(ctx, req, res, { projectId: id, action: 'project.create', target: `project:${body.slug}`, detail: { name: body.name } }, tx);
    return { slug: body.slug, name: body.name, role: 'owner' as const };
  });
  res.status(201).json({ project });
};

export const getProject = (_ctx: ApiContext): Handler => async (_req, res) => {
  const p = projectOfAuth(res);
  res.json({ project: { slug: p.slug, name: p.name, role: authOf(res).role } });
};

const updateBody = z.object({ name: nameSchema }).strict();

export const updateProject = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const body = updateBody.parse(req.body);
  await ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE projects SET name = $2 WHERE id = $1', [p.id, body.name]);
    await auditRequest(ctx, req, res, { action: 'project.update', target: `project:${p.slug}`, detail: { from: { name: p.name }, to: body } }, tx);
  });
  res.json({ project: { slug: p.slug, name: body.name } });
};

export const deleteProject = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  if (p.slug === ctx.config.Z4J_PROJECT) throw new ApiError(409, 'PROJECT_IN_USE', `'${p.slug}' is the project sources report into (Z4J_PROJECT); it cannot be deleted`);
  await ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE projects SET deleted_at = now() WHERE id = $1', [p.id]);
    // Its schedules go with it (their runs too, by cascade): nothing fires for a deleted project.
    const schedules = (await tx.query('DELETE FROM schedules WHERE project_id = $1 RETURNING id', [p.id])).rows.length;
    // Its bulk jobs stop too: the runner walks any running job, whatever became of its project.
    const bulkJobs = (await tx.query(
      `UPDATE bulk_jobs SET state = 'cancelled', message = 'the project was deleted', updated_at = now() WHERE project_id = $1 AND state = 'running' RETURNING id`, [p.id],
    )).rows.length;
    const detail = { ...(schedules ? { schedules } : {}), ...(bulkJobs ? { bulkJobs } : {}) };
    await auditRequest(ctx, req, res, { action: 'project.delete', target: `project:${p.slug}`, ...(Object.keys(detail).length ? { detail } : {}) }, tx);
  });
  ctx.agentIngest.forgetProject(p.slug); // its agents' batches are refused from now on
  res.status(204).end();
};

const transferBody = z.object({
  userId: z.number().int().positive(),
  login: z.string().min(1).max(256),
  email: z.string().email().max(320).optional(),
  name: z.string().max(256).optional(),
}).strict();

/** Makes another Grafana user Owner; the caller (if a member) becomes Admin. */
export const transferProject = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { user } = requireUser(authOf(res).caller);
  const body = transferBody.parse(req.body);
  if (body.userId === user.userId) throw new ApiError(400, 'BAD_REQUEST', 'userId: you already own this project');
  await ctx.db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO memberships (project_id, user_id, login, email, name, role, created_by, set_by_owner) VALUES ($1, $2, $3, $4, $5, 'owner', $6, true)
       ON CONFLICT (project_id, user_id) DO UPDATE SET role = 'owner', set_by_owner = true, login = EXCLUDED.login, updated_at = now()`,
      [p.id, body.userId, body.login, body.email ?? null, body.name ?? null, callerLabel(authOf(res).caller)],
    );
    await tx.query(
      `INSERT INTO memberships (project_id, user_id, login, email, name, role, created_by, set_by_owner) VALUES ($1, $2, $3, $4, $5, 'admin', $6, true)
       ON CONFLICT (project_id, user_id) DO UPDATE SET role = 'admin', set_by_owner = true, updated_at = now()`,
      [p.id, user.userId, user.login, user.email, user.name, `user:${user.login}`],
    );
    await auditRequest(ctx, req, res, { action: 'project.transfer', target: `user:${body.userId}`, detail: { to: body.login, from: user.login } }, tx);
  });
  res.json({ project: { slug: p.slug, name: p.name }, owner: { userId: body.userId, login: body.login } });
};
