// An action on an engine the service has no broker for (no driver, or Celery's without brokers)
// says which setting gives it one.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Db } from '../db/db.js';
import { CeleryDriver } from '../engines/celery/driver.js';
import type { EngineDriver } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

describe('an action on an engine without a driver', () => {
  let db: Db;
  let api: ReturnType<typeof testApp>;

  beforeAll(async () => {
    db = await openTestDb('pglite', 'no_driver');
    // Celery's driver always exists; without brokers it acts on nothing.
    api = testApp(db, { drivers: new Map<Engine, EngineDriver>([['celery', new CeleryDriver([])]]) });
    api.pipeline.start();
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: randomUUID(), engine: 'huey', project: 'default', kind: 'enqueued', taskId: 'waiting', occurredAt: Date.now(), fields: { name: 'app.t', queue: 'app' } });
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: randomUUID(), engine: 'celery', project: 'default', kind: 'enqueued', taskId: 'celery-waiting', occurredAt: Date.now(), fields: { name: 'app.t', queue: 'app' } });
    await api.pipeline.drained();
  });
  afterAll(async () => {
    await api?.pipeline.stop();
    await db?.close();
  });

  test('is refused, naming the setting that would give the service its broker', async () => {
    const r = await request(api.app).post('/api/tasks/huey/waiting/actions/cancel').set(authHeaders('operator')).set('idempotency-key', randomUUID()).send({});
    const message: string = r.body.command?.outcome?.message ?? r.body.error?.message;
    expect(message).toBe('huey does not support task.cancel here: this service has no huey broker to act on (set Z4J_HUEY_REDIS_URL)');
  });

  test('on Celery without brokers is refused the same way, and the engine is not offered as one that can act', async () => {
    const r = await request(api.app).post('/api/tasks/celery/celery-waiting/actions/cancel').set(authHeaders('operator')).set('idempotency-key', randomUUID()).send({});
    const message: string = r.body.command?.outcome?.message ?? r.body.error?.message;
    expect(message).toBe('celery does not support task.cancel here: no Celery broker is configured (Z4J_CELERY_BROKERS)');
    expect((await request(api.app).get('/api/capabilities').set(authHeaders('viewer'))).body.engines).toEqual([]);
  });
});
