// A source's last error is shown by /api/readyz and logged: no secret it quotes is kept.
import { pino } from 'pino';
import { createMetrics } from '../metrics.js';
import { SourceHealth } from './source.js';

test("a source's last error keeps its sense but not the password its URL held", () => {
  const health = new SourceHealth('celery:redis', createMetrics(), pino({ level: 'silent' }));
  health.error(new Error('connect ECONNREFUSED redis://:hunter2-secret@broker:6379/0'));
  const { lastError } = health.status();
  expect(lastError).toMatch(/^connect ECONNREFUSED redis:\/\/.*broker:6379\/0$/);
  expect(lastError).not.toContain('hunter2-secret');
});
