// The service starts, and answers, while a Celery broker it watches is down: the subscriber
// connects (and subscribes) in the background, as it reconnects after any drop.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService } from '../src/service.js';
import { TEST_PROXY_SECRET } from './helpers/auth.js';

jest.setTimeout(60_000);

test('a Celery broker that is down does not keep the service from starting', async () => {
  const started = Date.now();
  const svc = await startService(loadConfig({}, {
    PORT: 0,
    HOST: '127.0.0.1',
    Z4J_DATA_DIR: mkdtempSync(join(tmpdir(), 'z4j-redis-down-')),
    Z4J_CELERY_BROKERS: ['redis://127.0.0.1:1/11'], // nothing listens on port 1
    Z4J_CELERY_ENABLE_EVENTS_INTERVAL: 0,
    Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
  }), { log: pino({ level: 'silent' }) });
  try {
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  } finally {
    await svc.stop();
  }
});
