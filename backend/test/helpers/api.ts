// An API over a test database, without sources: for handler tests through supertest.
import { pino } from 'pino';
import { createApp } from '../../src/api/app.js';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { Sealer } from '../../src/crypto/seal.js';
import type { Db } from '../../src/db/db.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { createMetrics } from '../../src/metrics.js';

export function testApp(db: Db) {
  const log = pino({ level: 'silent' });
  const metrics = createMetrics();
  const config = loadConfig({});
  const pipeline = new IngestPipeline(db, { capacity: 100000, batchSize: 2000, flushMs: 0, maxFieldChars: 1000 }, metrics, log);
  return { app: createApp({ db, config, metrics, pipeline, sources: [], log, sealer: new Sealer([{ id: 1, key: randomBytes(32) }]), version: 'test' }), pipeline };
}
