// A task's root (its workflow's first task: the task page links it) taken from its parent
// where the events name a parent and no root. Celery's events always carry both; an agent sends
// a root only where its process knows it: a Huey process worker handed a pipeline's middle step
// by another process knows the step's parent but not the pipeline's first task (agent/huey.py).
// The parent's root is then the child's: the parent's root_id, or the parent itself when it has
// no parent (a top-level task is its own root). Both orders of arrival are covered: a child
// written after its parent takes the parent's root at once; a parent written after a child
// gives its root to the child then (one generation: a grandchild waiting on a child that waited
// too stays rootless, as does a child whose parent another writer lane or replica stores at the
// same moment). The workflow graph does not depend on it: it walks parents (taskGraph.ts).
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

/** Rootless children, stored before them, of tasks new now (tasks_by_parent). */
const PARENTS_GIVE_ROOT_SQL = `
UPDATE tasks AS c SET root_id = ${PARENTS_ROOT}
  FROM unnest($1::int[], $2::text[], $3::text[]) AS k(project_id, engine, task_id)
  JOIN tasks AS p ON p.project_id = k.project_id AND p.engine = k.engine AND p.task_id = k.task_id
 WHERE c.project_id = p.project_id AND c.parent_id = p.task_id AND c.engine = p.engine
   AND c.root_id IS NULL AND ${PARENT_KNOWS_ROOT}`;

const keyColumns = (tasks: KeyedTask[]) => [tasks.map((t) => t.projectId), tasks.map((t) => t.row.engine), tasks.map((t) => t.row.taskId)];

/**
 * `written`: the rows this batch inserted or updated; `created`: those it inserted. Celery rows
 * are left out of the second: Celery names every task's root, so no Celery child waits for one.
 */
export async function inheritRoots(tx: Queryable, written: KeyedTask[], created: KeyedTask[]): Promise<void> {
  const rootless = written.filter((t) => t.row.parentId && !t.row.rootId);
  if (rootless.length) await tx.query(CHILDREN_TAKE_ROOT_SQL, keyColumns(rootless), { name: 'z4j_children_take_root' });
  const parents = created.filter((t) => t.row.engine !== 'celery');
  if (parents.length) await tx.query(PARENTS_GIVE_ROOT_SQL, keyColumns(parents), { name: 'z4j_parents_give_root' });
}
