// Read endpoints the plugin's explorer and DAG view need: task names for autocomplete, and the
// graph of the workflow a task belongs to (every task sharing its root, linked by parent and retry).
import { z } from 'zod';
import { ENGINES } from '../../ingest/envelope.js';
import { projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { SENT_RETRY } from '../taskQueries.js';
import type { Handler } from '../routes.js';

const MAX_NODES = 5000;

/**
 * Distinct names starting with the prefix, in order, by walking the name index one name at a time
 * (a loose index scan): cheap however many tasks each name has.
 */
const NAMES_SQL = `
WITH RECURSIVE n(name, depth) AS (
  SELECT (SELECT min(t.name) FROM tasks t WHERE t.project_id = $1 AND t.name >= $2), 1
  UNION ALL
  SELECT (SELECT min(t.name) FROM tasks t WHERE t.project_id = $1 AND t.name > n.name), n.depth + 1
    FROM n WHERE n.name IS NOT NULL AND left(n.name, length($2)) = $2 AND n.depth < $3
)
SELECT name FROM n WHERE name IS NOT NULL AND left(name, length($2)) = $2`;

export const taskNames = (ctx: ApiContext): Handler => async (req, res) => {
  const q = z.strictObject({ prefix: z.string().max(200).default(''), limit: z.coerce.number().int().min(1).max(200).default(20), project: z.string().optional() }).parse(req.query);
  const rows = await ctx.reads.query<{ name: string }>(NAMES_SQL, [projectOfAuth(res).id, q.prefix, q.limit]);
  res.json({ names: rows.rows.map((r) => r.name) });
};

interface Node {
  engine: string;
  taskId: string;
  name: string | null;
  state: string;
  queue: string | null;
  runtimeMs: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  parentId: string | null;
  groupId: string | null;
  rootId: string | null;
}

export const taskGraph = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine, taskId } = z.object({ engine: z.enum(ENGINES), taskId: z.string().min(1).max(255) }).parse(req.params);
  const projectId = projectOfAuth(res).id;
  const self = (await ctx.reads.query<{ root: string; group: string | null }>(
    'SELECT coalesce(root_id, task_id) AS root, group_id AS "group" FROM tasks WHERE project_id = $1 AND engine = $2 AND task_id = $3',
    [projectId, engine, taskId],
  )).rows[0];
  if (!self) throw notFound(`task ${engine}/${taskId}`, 'TASK_NOT_FOUND');
  const nodes = (await ctx.reads.query<Node>(
    `SELECT t.engine, t.task_id AS "taskId", t.name, t.state, t.queue, t.runtime_ms AS "runtimeMs", t.started_at AS "startedAt",
            t.finished_at AS "finishedAt", t.parent_id AS "parentId", t.group_id AS "groupId", t.root_id AS "rootId"
       FROM tasks t
      -- The root by its id, the rest by root_id: as tasks_by_root indexes them (migration 0009);
      -- and the task's group, whose members sent on their own share no root (tasks_by_group).
      WHERE t.project_id = $1 AND t.engine = $2
        AND (t.task_id = $3 OR (t.root_id = $3 AND t.root_id <> t.task_id) OR t.group_id = $4)
      ORDER BY t.first_seen_at, t.id
      LIMIT ${MAX_NODES + 1}`,
    [projectId, engine, self.root, self.group],
  )).rows;
  const truncated = nodes.length > MAX_NODES;
  const kept = nodes.slice(0, MAX_NODES);
  const ids = new Set(kept.map((n) => n.taskId));
  const edges: { from: string; to: string; kind: 'chain' | 'group' | 'retry' }[] = [];
  for (const n of kept) {
    if (n.parentId && ids.has(n.parentId) && n.parentId !== n.taskId) edges.push({ from: n.parentId, to: n.taskId, kind: n.groupId ? 'group' : 'chain' });
  }
  const retries = await ctx.reads.query<{ original: string; retry: string }>(
    `SELECT original_task_id AS original, new_task_id AS retry FROM task_retries r WHERE project_id = $1 AND engine = $2 AND original_task_id = ANY($3::text[]) AND ${SENT_RETRY}`,
    [projectId, engine, [...ids]],
  );
  for (const r of retries.rows) edges.push({ from: r.original, to: r.retry, kind: 'retry' });
  res.json({ rootId: self.root, truncated, nodes: kept.map(({ rootId: _r, ...n }) => n), edges });
};
