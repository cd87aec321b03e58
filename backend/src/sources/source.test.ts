// What a source says of itself: its name (a metrics label, read by whoever reaches /metrics)
// says nothing of its broker; its broker and last error (server admins, logs) keep no password.
import { pino } from 'pino';
import { createMetrics } from '../metrics.js';
import { brokerLocation, nameSources, SourceHealth } from './source.js';

test("a source's last error keeps its sense but not the password its URL held", () => {
  const health = new SourceHealth('celery-redis-1', 'redis://broker:6379/0', createMetrics(), pino({ level: 'silent' }));
  health.error(new Error('connect ECONNREFUSED redis://:hunter2-secret@broker:6379/0'));
  const { lastError } = health.status();
  expect(lastError).toMatch(/^connect ECONNREFUSED redis:\/\/.*broker:6379\/0$/);
  expect(lastError).not.toContain('hunter2-secret');
});

test('sources are named by kind and position among their kind, the same for the same configuration', () => {
  const urls = ['redis://:pw@redis.internal.example:6379/0', 'amqp://guest:guest@rabbit.internal.example:5672//', 'rediss://cache.internal.example:6380/2?global_keyprefix=app1:'];
  const kindOf = (url: string) => (url.startsWith('redis') ? 'celery-redis' as const : 'celery-amqp' as const);
  const named = nameSources(urls, kindOf);
  expect(named.map((s) => s.name)).toEqual(['celery-redis-1', 'celery-amqp-1', 'celery-redis-2']);
  expect(nameSources(urls, kindOf)).toEqual(named);
  expect(named.map((s) => s.url)).toEqual(urls);
});

test("a source's broker is its URL without user and password, and its metrics carry the name alone", async () => {
  expect(brokerLocation('amqp://guest:s3cret@rabbit.internal.example:5672/vhost')).toBe('amqp://rabbit.internal.example:5672/vhost');
  expect(brokerLocation('redis://:hunter2@redis.internal.example:6379/0?global_keyprefix=app1:')).toBe('redis://redis.internal.example:6379/0?global_keyprefix=app1:');
  const metrics = createMetrics();
  const health = new SourceHealth('celery-redis-1', 'redis://:hunter2@redis.internal.example:6379/0', metrics, pino({ level: 'silent' }));
  health.connected(true);
  health.error(new Error('connection reset'));
  expect(health.status()).toMatchObject({ name: 'celery-redis-1', broker: 'redis://redis.internal.example:6379/0' });
  const text = await metrics.registry.metrics();
  expect(text).toContain('z4j_source_connected{source="celery-redis-1"} 1');
  expect(text).toContain('z4j_source_errors_total{source="celery-redis-1"} 1');
  expect(text).not.toMatch(/internal\.example|hunter2/);
});
