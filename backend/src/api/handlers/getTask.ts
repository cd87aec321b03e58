import { z } from 'zod';
import { ENGINES } from '../../ingest/envelope.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Handler } from '../routes.js';
import { projectOf } from '../project.js';
import { getTask as query } from '../taskQueries.js';

const params = z.object({ engine: z.enum(ENGINES), taskId: z.string().min(1).max(255) });

export const getTask = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine, taskId } = params.parse(req.params);
  const project = await projectOf(ctx, req);
  const found = await query(ctx.reads, project.id, engine, taskId, ctx.config.Z4J_WORKER_LOST_AFTER);
  if (!found) throw notFound(`task ${engine}/${taskId}`, 'TASK_NOT_FOUND');
  res.json(found);
};
