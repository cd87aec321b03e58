// A task's root (its workflow's first task: the task page links it) taken from its parent
// where the events name a parent and no root. Celery's events always carry both; an agent sends
// a root only where its process knows it: a Huey process worker handed a pipeline's middle step
// by another process knows the step's parent but not the pipeline's first task (agent/huey.py).
// The parent's root is then the child's: the parent's root_id, or the parent itself when it has
// no parent (a top-level task is its own root), taken when the child is written and its parent
// is stored (in this batch or before). A child stored before its parent, or while another
// writer lane or replica stores the parent, stays rootless. The workflow graph does not depend
// on it: it walks parents (taskGraph.ts).
import type { Queryable } from '../db/db.js';
import type { KeyedTask } from './taskColumns.js';

const PARENTS_ROOT = 'CASE WHEN p.parent_id IS NULL THEN coalesce(p.root_id, p.task_id) ELSE p.root_id END';
const PARENT_KNOWS_ROOT = '(p.root_id IS NOT NULL OR p.parent_id IS NULL)';

/** Children written now, without a root, whose parent is stored. */
const CHILDREN_TAKE_ROOT_SQL = `
UPDATE tasks AS c SET root_id = ${PARENTS_ROOT}
  FROM unnest($1::int[], $2::text[], $3::text[]) AS k(project_id, engine, task_id), tasks AS p
 WHERE c.project_id = k.project_id AND c.engine = k.engine AND c.task_id = k.task_id
   AND c.root_id IS NULL AND c.parent_id IS NOT NULL
   AND p.project_id = c.project_id AND p.engine = c.engine AND p.task_id = c.parent_id AND ${PARENT_KNOWS_ROOT}`;

const keyColumns = (tasks: KeyedTask[]) => [tasks.map((t) => t.projectId), tasks.map((t) => t.row.engine), tasks.map((t) => t.row.taskId)];

/**
 * `written`: the rows this batch inserted or updated. Only children written after their parent
 * take its root: giving a new parent's root to children stored before it would cost every batch
 * of new tasks an index probe per task (tasks_by_parent) for a link the task page shows.
 */
export async function inheritRoots(tx: Queryable, written: KeyedTask[]): Promise<void> {
  const rootless = written.filter((t) => t.row.parentId && !t.row.rootId);
  if (rootless.length) await tx.query(CHILDREN_TAKE_ROOT_SQL, keyColumns(rootless), { name: 'z4j_children_take_root' });
}
