// One list of the task columns the ingest writes, from which the array-based INSERT,
// UPDATE and SELECT statements are generated, so the three cannot drift apart.
import type { TaskRow } from './taskState.js';

type Kind = 'text' | 'int' | 'float8' | 'time' | 'json';

interface Column {
  name: string;
  key: keyof TaskRow;
  kind: Kind;
}

const c = (name: string, key: keyof TaskRow, kind: Kind): Column => ({ name, key, kind });

/** Every column but the identity (project_id, engine, task_id), in array order. */
export const TASK_COLUMNS: readonly Column[] = [
  c('name', 'name', 'text'),
  c('queue', 'queue', 'text'),
  c('state', 'state', 'text'),
  c('attempt', 'attempt', 'int'),
  c('attempt_at', 'attemptAt', 'time'),
  c('state_at', 'stateAt', 'time'),
  c('args', 'args', 'json'),
  c('kwargs', 'kwargs', 'json'),
  c('result', 'result', 'json'),
  c('exception', 'exception', 'text'),
  c('traceback', 'traceback', 'text'),
  c('worker', 'worker', 'text'),
  c('retries', 'retries', 'int'),
  c('root_id', 'rootId', 'text'),
  c('parent_id', 'parentId', 'text'),
  c('group_id', 'groupId', 'text'),
  c('eta', 'eta', 'time'),
  c('sent_at', 'sentAt', 'time'),
  c('received_at', 'receivedAt', 'time'),
  c('started_at', 'startedAt', 'time'),
  c('finished_at', 'finishedAt', 'time'),
  c('runtime_ms', 'runtimeMs', 'float8'),
  c('wait_ms', 'waitMs', 'float8'),
  c('first_seen_at', 'firstSeenAt', 'time'),
  c('last_event_at', 'lastEventAt', 'time'),
];

// Times travel as epoch milliseconds (float8) and JSON as text: both are cheap to bind.
const ARRAY_TYPE: Record<Kind, string> = { text: 'text[]', int: 'int[]', float8: 'float8[]', time: 'float8[]', json: 'text[]' };
const FROM_ARRAY: Record<Kind, (col: string) => string> = {
  text: (x) => x,
  int: (x) => x,
  float8: (x) => x,
  time: (x) => `to_timestamp(${x} / 1000.0)`,
  json: (x) => `${x}::jsonb`,
};
const TO_ROW: Record<Kind, (col: string) => string> = {
  text: (x) => x,
  int: (x) => x,
  float8: (x) => x,
  time: (x) => `round(extract(epoch FROM ${x}) * 1000)::float8`,
  json: (x) => x,
};

// $1..$3 are the identity arrays; the task columns follow.
const unnestArgs = ['$1::int[]', '$2::text[]', '$3::text[]', ...TASK_COLUMNS.map((col, i) => `$${i + 4}::${ARRAY_TYPE[col.kind]}`)].join(', ');
const unnestAlias = ['project_id', 'engine', 'task_id', ...TASK_COLUMNS.map((col) => col.name)].join(', ');

export const INSERT_TASKS_SQL = `
INSERT INTO tasks (project_id, engine, task_id, ${TASK_COLUMNS.map((col) => col.name).join(', ')})
SELECT u.project_id, u.engine, u.task_id, ${TASK_COLUMNS.map((col) => FROM_ARRAY[col.kind](`u.${col.name}`)).join(', ')}
  FROM unnest(${unnestArgs}) AS u(${unnestAlias})
ON CONFLICT (project_id, engine, task_id) DO NOTHING
RETURNING project_id, engine, task_id`;

export const UPDATE_TASKS_SQL = `
UPDATE tasks AS t SET ${TASK_COLUMNS.map((col) => `${col.name} = ${FROM_ARRAY[col.kind](`u.${col.name}`)}`).join(', ')}
  FROM unnest(${unnestArgs}) AS u(${unnestAlias})
 WHERE t.project_id = u.project_id AND t.engine = u.engine AND t.task_id = u.task_id`;

/** Current rows of the given tasks, locked for this transaction (in id order, so replicas do not deadlock). */
export const SELECT_TASKS_FOR_UPDATE_SQL = `
SELECT t.project_id AS "projectId", t.engine, t.task_id AS "taskId",
       ${TASK_COLUMNS.map((col) => `${TO_ROW[col.kind](`t.${col.name}`)} AS "${col.key}"`).join(', ')}
  FROM tasks t
  JOIN unnest($1::int[], $2::text[], $3::text[]) AS k(project_id, engine, task_id)
    ON t.project_id = k.project_id AND t.engine = k.engine AND t.task_id = k.task_id
 ORDER BY t.id
   FOR UPDATE OF t`;

export interface KeyedTask {
  projectId: number;
  row: TaskRow;
}

/** Binds tasks as parameter arrays for INSERT_TASKS_SQL / UPDATE_TASKS_SQL. */
export function taskParams(tasks: readonly KeyedTask[]): unknown[] {
  const params: unknown[][] = [[], [], [], ...TASK_COLUMNS.map(() => [])];
  for (const { projectId, row } of tasks) {
    params[0]!.push(projectId);
    params[1]!.push(row.engine);
    params[2]!.push(row.taskId);
    TASK_COLUMNS.forEach((col, i) => {
      const v = row[col.key];
      params[i + 3]!.push(col.kind === 'json' ? (v === null || v === undefined ? null : JSON.stringify(v)) : (v ?? null));
    });
  }
  return params;
}
