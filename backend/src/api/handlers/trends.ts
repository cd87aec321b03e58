import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { projectOf } from '../project.js';
import { trends as query, trendsQuery } from '../trends.js';

export const trends = (ctx: ApiContext): Handler => async (req, res) => {
  const q = trendsQuery.parse(req.query);
  const project = await projectOf(ctx, req);
  res.json(await query(ctx.reads, project.id, q));
};
