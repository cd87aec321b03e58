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

/** How far the workflow is walked by parent links, up to its first task and down from it. */
const MAX_DEPTH = 1000;

/**
 * The workflow's first task: the task's parents walked up (the unique key per step) to the top,
 * whose stored root (a parent z4j never saw) or own id it is. By parent rather than by the stored
 * root alone: a step an agent could not name the root of (a Huey step handed to another process,
 * taskRoots.ts) and the write that would have given it one raced, still has its parent.
 */
const TOP_SQL = `
WITH RECURSIVE up(task_id, parent_id, root_id, depth) AS (
  SELECT task_id, parent_id, root_id, 0 FROM tasks WHERE project_id = $1 AND engine = $2 AND task_id = $3
  UNION ALL
  SELECT p.task_id, p.parent_id, p.root_id, up.depth + 1
    FROM up JOIN tasks p ON p.project_id = $1 AND p.engine = $2 AND p.task_id = up.parent_id
   WHERE up.depth < ${MAX_DEPTH} AND up.parent_id <> up.task_id
)
SELECT coalesce(root_id, task_id) AS root FROM up ORDER BY depth DESC LIMIT 1`;

export const taskGraph = (ctx: ApiContext): Handler => async (req, res) => {
  const { engine, taskId } = z.object({ engine: z.enum(ENGINES), taskId: z.string().min(1).max(255) }).parse(req.params);
  const projectId = projectOfAuth(res).id;
  const self = (await ctx.reads.query<{ group: string | null }>(
    'SELECT group_id AS "group" FROM tasks WHERE project_id = $1 AND engine = $2 AND task_id = $3',
    [projectId, engine, taskId],
  )).rows[0];
  if (!self) throw notFound(`task ${engine}/${taskId}`, 'TASK_NOT_FOUND');
  const root = (await ctx.reads.query<{ root: string }>(TOP_SQL, [projectId, engine, taskId])).rows[0]!.root;
  const nodes = (await ctx.reads.query<Node>(
    `WITH RECURSIVE down(task_id, depth) AS (
       SELECT $3::text COLLATE "C", 0
       UNION
       SELECT c.task_id, down.depth + 1 FROM down JOIN tasks c ON c.project_id = $1 AND c.parent_id = down.task_id AND c.engine = $2
        WHERE down.depth < ${MAX_DEPTH} AND c.task_id <> down.task_id
     ),
     -- The root by its id and its descendants by parent (tasks_by_parent), the rest by root_id
     -- (tasks_by_root, migration 0009), and the task's group, whose members sent on their own
     -- share no root (tasks_by_group).
     ids AS (
       (SELECT task_id FROM down LIMIT ${MAX_NODES + 1})
       UNION SELECT task_id FROM tasks WHERE project_id = $1 AND engine = $2 AND root_id = $3 AND root_id <> task_id
       UNION SELECT task_id FROM tasks WHERE project_id = $1 AND engine = $2 AND group_id = $4
     )
     SELECT t.engine, t.task_id AS "taskId", t.name, t.state, t.queue, t.runtime_ms AS "runtimeMs", t.started_at AS "startedAt",
            t.finished_at AS "finishedAt", t.parent_id AS "parentId", t.group_id AS "groupId", t.root_id AS "rootId"
       FROM ids JOIN tasks t ON t.project_id = $1 AND t.engine = $2 AND t.task_id = ids.task_id
      ORDER BY t.first_seen_at, t.id
      LIMIT ${MAX_NODES + 1}`,
    [projectId, engine, root, self.group],
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
  res.json({ rootId: root, truncated, nodes: kept.map(({ rootId: _r, ...n }) => n), edges });
};
