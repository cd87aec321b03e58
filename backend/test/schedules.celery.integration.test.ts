// A schedule on Celery over Redis, end to end (helpers/schedules.ts): "run now" puts on the
// queue the protocol-2 message a Celery worker takes (the task's name, the exact args and kwargs,
// their reprs redacted), a real worker started after it runs it, and the scheduler fires it on its
// cron as the same kind of task. The worker's own events (-E) report the runs.
import { Redis } from 'ioredis';
import { REDIS_URL, isolatedCelery, startWorker } from './helpers/celery.js';
import { describeSchedules, SCHEDULE_SECRET } from './helpers/schedules.js';

const celery = isolatedCelery(REDIS_URL);

describeSchedules({
  label: 'Celery (Redis)',
  engine: 'celery',
  settings: {
    Z4J_CELERY_BROKERS: [celery.broker], Z4J_CELERY_EVENT_EXCHANGE: celery.eventExchange, Z4J_CELERY_CONTROL_EXCHANGE: celery.controlExchange, Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
  },
  taskName: 'z4j.echo',
  queue: celery.queue,
  echoRedis: REDIS_URL,
  startWorker: () => startWorker(celery, { concurrency: 1 }),
  // No worker yet: the message waits on the queue, as Celery's own apply_async leaves it.
  waiting: async (taskId, args, kwargs) => {
    const redis = new Redis(REDIS_URL);
    try {
      const waiting = await redis.lrange(celery.queue, 0, -1);
      expect(waiting).toHaveLength(1);
      const envelope = JSON.parse(waiting[0]!) as { body: string; headers: Record<string, unknown>; properties: Record<string, unknown> };
      expect(envelope.headers).toMatchObject({ lang: 'py', task: 'z4j.echo', id: taskId, root_id: taskId, retries: 0 });
      expect(envelope.properties).toMatchObject({ correlation_id: taskId, delivery_info: { routing_key: celery.queue } });
      expect(JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'))).toEqual([args, kwargs, { callbacks: null, errbacks: null, chain: null, chord: null }]);
      // Celery's own tools show the reprs: the secret is not in them.
      expect(String(envelope.headers.kwargsrepr)).toContain('[redacted]');
      expect(JSON.stringify(envelope.headers)).not.toContain(SCHEDULE_SECRET);
    } finally {
      redis.disconnect();
    }
  },
});
