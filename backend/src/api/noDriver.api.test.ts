// An action on an engine the service has no broker for says which setting gives it one.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Db } from '../db/db.js';
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
    api = testApp(db, { drivers: new Map<Engine, EngineDriver>() });
    api.pipeline.start();
    await api.pipeline.offer('agent', { v: 1, type: 'task', id: randomUUID(), engine: 'huey', project: 'default', kind: 'enqueued', taskId: 'waiting', occurredAt: Date.now(), fields: { name: 'app.t', queue: 'app' } });
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
});
