// A schedule on RQ, end to end (helpers/schedules.ts): z4j writes the job itself (RQ's pickled
// call, zlib-compressed, in a job hash at the back of the queue), and a real RQ worker, with the
// agent reporting its jobs, runs it. RQ workers call any function a job names, so a schedule may
// send only a task the application has enqueued on RQ before.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { PythonApp, uniqueQueue } from './helpers/pyapp.js';
import { describeSchedules, SCHEDULE_SECRET } from './helpers/schedules.js';

// A Redis DB of its own: the service takes every agent stream in it.
const REDIS_URL = process.env.Z4J_TEST_SCHEDULES_RQ_REDIS_URL ?? 'redis://127.0.0.1:6379/24';
const queue = uniqueQueue('sched_rq');
const name = `rq-sched-${randomBytes(3).toString('hex')}`;
const app = new PythonApp('rq', 'rq_app', { Z4J_TEST_REDIS: REDIS_URL });

describeSchedules({
  label: 'RQ',
  engine: 'rq',
  settings: { Z4J_RQ_REDIS_URL: REDIS_URL },
  agent: { redis: REDIS_URL },
  taskName: 'tasks.echo',
  queue,
  echoRedis: REDIS_URL,
  startWorker: (env) => app.start('rq', ['worker', '-u', REDIS_URL, '--name', name, '-w', 'z4j_agent.rq.Z4jWorker', queue], env),
  // The application has enqueued tasks.echo on RQ before (an RQ schedule sends only such a task).
  seen: async (db) => {
    await db.query(`INSERT INTO tasks (project_id, engine, task_id, name, state, attempt_at, state_at, first_seen_at, last_event_at)
                    SELECT id, 'rq', 'seen-echo', 'tasks.echo', 'succeeded', now(), now(), now(), now() FROM projects WHERE slug = 'default'`);
  },
  refused: ['eval', 'os.system'],
  // The job's description (logged by RQ's workers for every job, shown by dashboards) hides a value by its key.
  waiting: async (taskId) => {
    const redis = new Redis(REDIS_URL);
    try {
      const description = await redis.hget(`rq:job:${taskId}`, 'description');
      expect(description).toContain('password="[redacted]"');
      expect(description).not.toContain(SCHEDULE_SECRET);
      expect(await redis.lrange(`rq:queue:${queue}`, 0, -1)).toEqual([taskId]);
    } finally {
      redis.disconnect();
    }
  },
});
