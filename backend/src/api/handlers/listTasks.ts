import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { projectOf } from '../project.js';
import { listTasks as query, listTasksQuery } from '../taskQueries.js';

export const listTasks = (ctx: ApiContext): Handler => async (req, res) => {
  const project = await projectOf(ctx, req);
  res.json(await query(ctx.reads, project.id, listTasksQuery.parse(req.query)));
};
