// Resolves the project a request is about (query `project`, else the configured default).
import type { Request } from 'express';
import type { ApiContext } from './context.js';
import { ApiError, notFound } from './errors.js';

export async function projectOf(ctx: ApiContext, req: Request): Promise<{ id: number; slug: string }> {
  const raw = req.query.project;
  const slug = raw === undefined ? ctx.config.Z4J_PROJECT : raw;
  if (typeof slug !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug)) throw new ApiError(400, 'BAD_REQUEST', 'project: not a project slug');
  const row = (await ctx.db.query<{ id: number }>('SELECT id FROM projects WHERE slug = $1 AND deleted_at IS NULL', [slug])).rows[0];
  if (!row) throw notFound(`project '${slug}'`, 'PROJECT_NOT_FOUND');
  return { id: row.id, slug };
}
