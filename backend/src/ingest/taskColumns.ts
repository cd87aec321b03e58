// One list of the task columns the ingest writes, from which the array-based INSERT,
// UPDATE and SELECT statements are generated, so the three cannot drift apart.
import { copyField, copyJson } from '../db/db.js';
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
  c('retried_count', 'retriedCount', 'int'),
  c('root_id', 'rootId', 'text'),
  c('parent_id', 'parentId', 'text'),
  c('group_id', 'groupId', 'text'),
  c('eta', 'eta', 'time'),
  c('expires_at', 'expiresAt', 'time'),
  c('sent_at', 'sentAt', 'time'),
  c('received_at', 'receivedAt', 'time'),
  c('started_at', 'startedAt', 'time'),
  c('finished_at', 'finishedAt', 'time'),
  c('runtime_ms', 'runtimeMs', 'float8'),
  c('wait_ms', 'waitMs', 'float8'),
  c('first_seen_at', 'firstSeenAt', 'time'),
  c('last_event_at', 'lastEventAt', 'time'),
];

// Rows travel as one JSON document per statement, unpacked by json_to_recordset: one native
// JSON.stringify in Node and one JSON parse in Postgres, instead of escaping every element of
// two dozen parameter arrays. Times travel as epoch milliseconds.
const RECORD_TYPE: Record<Kind, string> = { text: 'text', int: 'int', float8: 'float8', time: 'float8', json: 'json' };
const FROM_RECORD: Record<Kind, (col: string) => string> = {
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

// The record's keys are TaskRow's own (plus projectId, and a new task's sealed payload in
// base64), so a row binds as it is.
const RECORD = `json_to_recordset($1::json) AS u("projectId" int, engine text, "taskId" text, ${TASK_COLUMNS.map((col) => `"${col.key}" ${RECORD_TYPE[col.kind]}`).join(', ')}, sealed text)`;
const fromRecord = (col: Column) => FROM_RECORD[col.kind](`u."${col.key}"`);

export const INSERT_TASKS_SQL = `
INSERT INTO tasks (project_id, engine, task_id, ${TASK_COLUMNS.map((col) => col.name).join(', ')}, sealed_payload)
SELECT u."projectId", u.engine, u."taskId", ${TASK_COLUMNS.map(fromRecord).join(', ')}, decode(u.sealed, 'base64')
  FROM ${RECORD}
ON CONFLICT (project_id, engine, task_id) DO NOTHING
RETURNING project_id, engine, task_id, id::text AS ref`;

export const UPDATE_TASKS_SQL = `
UPDATE tasks AS t SET ${TASK_COLUMNS.map((col) => `${col.name} = ${fromRecord(col)}`).join(', ')}
  FROM ${RECORD}
 WHERE t.project_id = u."projectId" AND t.engine = u.engine AND t.task_id = u."taskId"`;

/**
 * The sealed payload of tasks that had a row before their payload came (a Celery task-sent
 * before the agent's enqueue): the first payload stored for a task stays.
 */
export const STORE_LATE_PAYLOADS_SQL = `
UPDATE tasks AS t SET sealed_payload = u.s
  FROM unnest($1::int[], $2::text[], $3::text[], $4::bytea[]) AS u(p, e, id, s)
 WHERE t.project_id = u.p AND t.engine = u.e AND t.task_id = u.id AND t.sealed_payload IS NULL`;

/** A row of `tasks t` as a TaskRow, with its key (projectId, engine, taskId) and row id (ref). */
export const SELECT_TASK_ROW = `t.project_id AS "projectId", t.engine, t.task_id AS "taskId", t.id::text AS ref,
       ${TASK_COLUMNS.map((col) => `${TO_ROW[col.kind](`t.${col.name}`)} AS "${col.key}"`).join(', ')}`;

/**
 * Current rows (and row ids) of the given tasks, locked for this transaction (in id order, so
 * replicas do not deadlock), each with the ids of its stored events.
 */
export const SELECT_TASKS_FOR_UPDATE_SQL = `
SELECT ${SELECT_TASK_ROW},
       ARRAY(SELECT e.event_id FROM task_events e WHERE e.task_ref = t.id) AS "storedIds"
  FROM tasks t
  JOIN unnest($1::int[], $2::text[], $3::text[]) AS k(project_id, engine, task_id)
    ON t.project_id = k.project_id AND t.engine = k.engine AND t.task_id = k.task_id
 ORDER BY t.id
   FOR UPDATE OF t`;

// On PostgreSQL new tasks are loaded with COPY into a temporary table and inserted from there.
// json_to_recordset builds a hash of every object's keys, then converts each value from text:
// a fifth of PostgreSQL's time per event went to that (perf, BENCHMARKS.md). COPY splits plain
// text rows and calls each column's input function, and cannot do ON CONFLICT itself, hence
// the table in between. It is the session's own (temporary, never logged, emptied at commit),
// so replicas and lanes never see each other's rows.
const STAGED_TYPE: Record<Kind, string> = { text: 'text', int: 'int', float8: 'float8', time: 'float8', json: 'jsonb' };
const STAGED = 'pg_temp.z4j_staged_tasks';
// The staged JSON columns are jsonb already; the rest converts as from a JSON record.
const fromStaged = (col: Column) => (col.kind === 'json' ? `s."${col.key}"` : FROM_RECORD[col.kind](`s."${col.key}"`));

export const CREATE_STAGED_TASKS_SQL = `
CREATE TEMP TABLE IF NOT EXISTS z4j_staged_tasks (project_id int, engine text, task_id text, ${TASK_COLUMNS.map((col) => `"${col.key}" ${STAGED_TYPE[col.kind]}`).join(', ')}, sealed bytea)
ON COMMIT DELETE ROWS`;

export const COPY_STAGED_TASKS_SQL = `COPY ${STAGED} FROM STDIN`;

/** Inserts the staged rows in the order they were copied (key order, see the writer). */
export const INSERT_STAGED_TASKS_SQL = `
INSERT INTO tasks (project_id, engine, task_id, ${TASK_COLUMNS.map((col) => col.name).join(', ')}, sealed_payload)
SELECT s.project_id, s.engine, s.task_id, ${TASK_COLUMNS.map(fromStaged).join(', ')}, s.sealed
  FROM ${STAGED} s
ON CONFLICT (project_id, engine, task_id) DO NOTHING
RETURNING project_id, engine, task_id, id::text AS ref`;

// A task row's times are often equal (first seen, received, attempt; state, finished, last
// event): the last one's text is reused.
let lastNumber = Number.NaN;
let lastNumberText = '';
const finiteNumber = (v: unknown) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '\\N';
  if (v !== lastNumber) {
    lastNumber = v;
    lastNumberText = String(v);
  }
  return lastNumberText;
}; // times are epoch ms
const COPY_VALUE: Record<Kind, (value: unknown) => string> = {
  text: (v) => copyField(v as string | null),
  int: (v) => (v === null || v === undefined ? '\\N' : String(v)),
  float8: finiteNumber,
  time: finiteNumber,
  json: (v) => (v === null || v === undefined ? '\\N' : copyJson(JSON.stringify(v))),
};
const COPY_COLUMNS = TASK_COLUMNS.map((col) => ({ key: col.key, value: COPY_VALUE[col.kind] }));

/** Tasks as COPY text rows for COPY_STAGED_TASKS_SQL, in the given order. */
export function stagedTaskRows(tasks: readonly KeyedTask[]): string {
  let text = '';
  for (const { projectId, row, sealed } of tasks) {
    text += `${projectId}\t${row.engine}\t${copyField(row.taskId)}`;
    for (const col of COPY_COLUMNS) text += `\t${col.value(row[col.key])}`;
    // bytea in hex; COPY's text format reads `\\` as one backslash
    text += sealed ? `\t\\\\x${sealed.toString('hex')}\n` : '\t\\N\n';
  }
  return text;
}

export interface KeyedTask {
  projectId: number;
  row: TaskRow;
  /** A new task's sealed retry payload, stored with its row (inserts only). */
  sealed?: Buffer;
}

/** Binds tasks for INSERT_TASKS_SQL / UPDATE_TASKS_SQL. */
export function taskParams(tasks: readonly KeyedTask[]): unknown[] {
  // The project id is spliced into each row's JSON text: copying a 30-key row into a new object
  // with one more key costs more than serialising it (this runs for every task written).
  const sealed = (b: Buffer | undefined) => (b ? `,"sealed":"${b.toString('base64')}"` : '');
  return [`[${tasks.map((t) => `${JSON.stringify(t.row).slice(0, -1)},"projectId":${t.projectId}${sealed(t.sealed)}}`).join(',')}]`];
}
