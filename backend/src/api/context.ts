import type { ActionService } from '../actions/actionService.js';
import type { BulkActions } from '../actions/bulk.js';
import type { Config } from '../config.js';
import type { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import type { IngestPipeline } from '../ingest/pipeline.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Source } from '../sources/source.js';

/** What request handlers may use. */
export interface ApiContext {
  db: Db;
  config: Config;
  metrics: Metrics;
  pipeline: IngestPipeline;
  sources: Source[];
  log: Logger;
  /** Seals what must be kept but never shown (retry payloads, agent secrets). */
  sealer: Sealer;
  actions: ActionService;
  bulk: BulkActions;
  version: string;
}
