// An API over a test database, without sources: for handler tests through supertest.
// Every call must authenticate: use `authHeaders(role)` from ./auth.ts.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createApp } from '../../src/api/app.js';
import { ActionService } from '../../src/actions/actionService.js';
import { BulkActions } from '../../src/actions/bulk.js';
import { DbPayloadStore } from '../../src/actions/payloads.js';
import type { ApiContext } from '../../src/api/context.js';
import { AuditKeyRing } from '../../src/audit/keys.js';
import type { IdTokenVerifier } from '../../src/auth/grafana.js';
import { createIdentity } from '../../src/auth/identity.js';
import type { Mailer } from '../../src/auth/mailer.js';
import { brokerProjects, loadConfig, type Config } from '../../src/config.js';
import { Sealer } from '../../src/crypto/seal.js';
import type { EngineDriver } from '../../src/engines/driver.js';
import type { Engine } from '../../src/ingest/envelope.js';
import type { Db } from '../../src/db/db.js';
import { AgentIngest } from '../../src/ingest/agentIngest.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { createMetrics } from '../../src/metrics.js';
import { ScheduleSender } from '../../src/schedules/send.js';
import { TEST_PROXY_SECRET } from './auth.js';

export interface TestAppOptions {
  /** The explorer's reads (default: `db`). */
  reads?: Db;
  config?: Partial<Config>;
  drivers?: Map<Engine, EngineDriver>;
  idTokens?: IdTokenVerifier | null;
  mailer?: Mailer | null;
  auditKeys?: AuditKeyRing;
}

export function testApp(db: Db, opts: TestAppOptions = {}) {
  const log = pino({ level: 'silent' });
  const metrics = createMetrics();
  const config = loadConfig({}, { Z4J_PROXY_SECRET: TEST_PROXY_SECRET, ...opts.config });
  const pipeline = new IngestPipeline(db, { capacity: 100000, batchSize: 2000, flushMs: 0, maxFieldChars: 1000 }, metrics, log);
  const sealer = new Sealer([{ id: 1, key: randomBytes(32) }]);
  const identity = createIdentity(config, db, sealer, log, {
    auditKeys: opts.auditKeys ?? new AuditKeyRing([{ id: 1, key: randomBytes(32) }]),
    idTokens: opts.idTokens ?? null,
    mailer: opts.mailer ?? null,
  });
  const actions = new ActionService(db, opts.drivers ?? new Map(), new DbPayloadStore(db, sealer), log, {
    recordEvent: (c, sealed) => pipeline.offer('z4j-actions', c, undefined, sealed),
    recordEvents: (cs, done, signal) => pipeline.offerUnhurried('z4j-actions', cs, done, signal),
    brokerProjects: brokerProjects(config),
    workerLostAfterS: config.Z4J_WORKER_LOST_AFTER,
  });
  const bulk = new BulkActions(db, actions, log, 1000);
  const agentIngest = new AgentIngest(db, pipeline, sealer, metrics, identity.audit);
  const schedules = new ScheduleSender(db, actions, sealer, metrics, log, identity.audit);
  const ctx: ApiContext = { db, reads: opts.reads ?? db, config, metrics, pipeline, sources: [], log, sealer, actions, bulk, schedules, agentIngest, version: 'test', ...identity };
  return { app: createApp(ctx), pipeline, ctx };
}
