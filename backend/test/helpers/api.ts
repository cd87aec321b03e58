// An API over a test database, without sources: for handler tests through supertest.
import { pino } from 'pino';
import { createApp } from '../../src/api/app.js';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { ActionService } from '../../src/actions/actionService.js';
import { BulkActions } from '../../src/actions/bulk.js';
import { DbPayloadStore } from '../../src/actions/payloads.js';
import { Sealer } from '../../src/crypto/seal.js';
import type { EngineDriver } from '../../src/engines/driver.js';
import type { Engine } from '../../src/ingest/envelope.js';
import type { Db } from '../../src/db/db.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { createMetrics } from '../../src/metrics.js';

export function testApp(db: Db, drivers: Map<Engine, EngineDriver> = new Map()) {
  const log = pino({ level: 'silent' });
  const metrics = createMetrics();
  const config = loadConfig({});
  const sealer = new Sealer([{ id: 1, key: randomBytes(32) }]);
  const pipeline = new IngestPipeline(db, { capacity: 100000, batchSize: 2000, flushMs: 0, maxFieldChars: 1000 }, metrics, log);
  const actions = new ActionService(db, drivers, new DbPayloadStore(db, sealer), log, (c) => pipeline.offer('z4j-actions', c));
  const bulk = new BulkActions(db, actions, log, 1000);
  return { sealer, actions, bulk, app: createApp({ db, config, metrics, pipeline, sources: [], log, sealer, actions, bulk, version: 'test' }), pipeline };
}
