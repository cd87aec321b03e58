// Two replicas write one Celery task's two enqueues at once: the agent's batch reached one of
// them (a stream entry, an AMQP message), task-sent the other (or every one, on Redis pub/sub).
// The task still gets one enqueued row per attempt, as when one replica writes both.
import { BatchWriter } from '../src/ingest/batchWriter.js';
import { AGENT_MARK } from '../src/ingest/celeryEnqueues.js';
import { taskEvent } from './helpers/envelopes.js';
import { twoReplicas, whileHeld } from './helpers/replicas.js';

const fromAgent = (taskId: string) =>
  taskEvent(taskId, 'enqueued', 1, { name: 'app.add', queue: 'q1', args: [1, 2], retries: 0, recordedBy: AGENT_MARK }, { worker: undefined });
const fromCelery = (taskId: string) =>
  taskEvent(taskId, 'enqueued', 2, { name: 'app.add', queue: 'q1', args: '(1, 2)', retries: 0, producer: 'gen1@host' }, { worker: undefined });

describe('Celery enqueues written by two replicas at once (PostgreSQL)', () => {
  const replicas = twoReplicas('enqueue_replicas');

  test('the agent\'s enqueue on one replica and task-sent on another, both looked before either committed: one row per task', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `t-replicas-${i}`);
    // Inserts into tasks wait on this lock: both writers have looked for stored enqueues (none
    // yet) by the time either can write, the overlap a busy pair of replicas has by chance.
    await whileHeld(replicas.url, (gate) => gate.query('LOCK TABLE tasks IN SHARE MODE'),
      () => Promise.all([new BatchWriter(replicas.a).write(ids.map(fromAgent)), new BatchWriter(replicas.b).write(ids.map(fromCelery))]), 2);
    const rows = (await replicas.a.query<{ task_id: string; n: number; fields: Record<string, unknown>[] }>(
      `SELECT task_id, count(*)::int AS n, json_agg(fields) AS fields FROM task_events WHERE kind = 'enqueued' AND task_id = ANY($1) GROUP BY task_id`, [ids],
    )).rows;
    expect(rows).toHaveLength(ids.length);
    for (const r of rows) {
      expect({ task: r.task_id, rows: r.n }).toEqual({ task: r.task_id, rows: 1 });
      // The agent's fields win, task-sent adds its producer, whichever replica wrote first.
      expect(r.fields[0]).toMatchObject({ args: [1, 2], producer: 'gen1@host', recordedBy: AGENT_MARK });
    }
  });
});
