import type { ActionService } from '../actions/actionService.js';
import type { BulkActions } from '../actions/bulk.js';
import type { AuditLog } from '../audit/chain.js';
import type { AuthSettings } from '../auth/identity.js';
import type { Config } from '../config.js';
import type { AgentIngest } from '../ingest/agentIngest.js';
import type { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import type { AgentKeyStore } from '../ingest/agentKeys.js';
import type { IngestPipeline } from '../ingest/pipeline.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ScheduleSender } from '../schedules/send.js';
import type { Source } from '../sources/source.js';

/** What request handlers may use. */
export interface ApiContext {
  db: Db;
  /**
   * The explorer's reads: on PostgreSQL a pool of their own whose statements are cancelled past
   * Z4J_QUERY_TIMEOUT_S, so a costly search neither waits forever nor takes ingest's connections.
   */
  reads: Db;
  config: Config;
  metrics: Metrics;
  pipeline: IngestPipeline;
  sources: Source[];
  log: Logger;
  /** Seals what must be kept but never shown (retry payloads, agent secrets). */
  sealer: Sealer;
  actions: ActionService;
  agentIngest: AgentIngest;
  bulk: BulkActions;
  /** Sends a schedule's run (run now; the scheduler uses the same). */
  schedules: ScheduleSender;
  version: string;
  /** Proxy secret, Grafana ID token verifier, mailer (identity and trust). */
  auth: AuthSettings;
  /** The per-project audit chain: `audit.append(entry, tx?)`, or `auditRequest` in audit/record.ts. */
  audit: AuditLog;
  /** Who may send agent batches (database credentials, then Z4J_AGENT_KEYS). */
  agentKeys: AgentKeyStore;
}
