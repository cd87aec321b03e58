// Prometheus metrics of the service. One registry per service instance so tests can
// run several services in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PlainHistogram } from './plainHistogram.js';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'z4j_' });
  // Hot-path counts kept in plain numbers by their owners and added up when scraped.
  const beforeScrape: (() => void)[] = [];
  const m = {
    registry,
    /** Called before each scrape, to bring counters kept outside prom-client up to date. */
    beforeScrape,
    eventsReceived: new Counter({
      name: 'z4j_ingest_events_received_total', help: 'Events offered to the pipeline by sources.', labelNames: ['source'], registers: [registry],
      collect: () => beforeScrape.forEach((bringUpToDate) => bringUpToDate()),
    }),
    eventsPersisted: new Counter({ name: 'z4j_ingest_events_persisted_total', help: 'New task events committed to storage.', labelNames: ['engine'], registers: [registry] }),
    eventsDuplicate: new Counter({ name: 'z4j_ingest_events_duplicate_total', help: 'Events already stored (same event id), ignored.', registers: [registry] }),
    workerEvents: new Counter({ name: 'z4j_ingest_worker_events_total', help: 'Worker online/heartbeat/offline events committed.', labelNames: ['engine'], registers: [registry] }),
    eventsIgnored: new Counter({ name: 'z4j_ingest_events_ignored_total', help: 'Events read and left aside on purpose (custom_event: an app\'s own Celery event types), by reason.', labelNames: ['source', 'reason'], registers: [registry] }),
    eventsInvalid: new Counter({ name: 'z4j_ingest_events_invalid_total', help: 'Events rejected by validation or by the database, by reason.', labelNames: ['source', 'reason'], registers: [registry] }),
    eventsClockAhead: new Counter({ name: 'z4j_ingest_events_clock_ahead_total', help: 'Events whose time was past their receipt by more than Z4J_CLOCK_SKEW_TOLERANCE (a sender\'s clock ahead, or a made-up time): stored at their receipt, with fields.clockSkewMs.', labelNames: ['source'], registers: [registry] }),
    eventsDropped: new Counter({ name: 'z4j_ingest_events_dropped_total', help: 'Events a lossy source dropped because the pipeline was full.', labelNames: ['source'], registers: [registry] }),
    batchSize: new Histogram({ name: 'z4j_ingest_batch_size', help: 'Events per committed batch.', buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000], registers: [registry] }),
    batchSeconds: new Histogram({ name: 'z4j_ingest_batch_seconds', help: 'Time to commit one batch.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    // Observed for every event stored: a histogram without prom-client's per-call cost.
    lagSeconds: new PlainHistogram('z4j_ingest_lag_seconds', 'From an event occurring to its commit.', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registry),
    tasksMarkedExpired: new Counter({ name: 'z4j_tasks_marked_expired_total', help: 'Waiting tasks z4j marked expired: their expiry passed with no worker report (an RQ job whose ttl ran out, a message no worker took in time).', labelNames: ['engine'], registers: [registry] }),
    tasksSettledFromResults: new Counter({ name: 'z4j_celery_tasks_settled_from_results_total', help: "Celery tasks whose outcome z4j read from the app's result backend, their worker's events having never arrived (lost while the service restarted, or its subscriber reconnected), by outcome.", labelNames: ['outcome'], registers: [registry] }),
    scheduleRuns: new Counter({ name: 'z4j_schedule_runs_total', help: 'Schedule runs (cron and run now) by where their send got to: sent (the broker holds the task), dispatched (an agent took the command), failed.', labelNames: ['state'], registers: [registry] }),
    writeErrors: new Counter({ name: 'z4j_ingest_write_errors_total', help: 'Failed batch writes (retried or split), by kind.', labelNames: ['kind'], registers: [registry] }),
    queueDepth: new Gauge({ name: 'z4j_ingest_queue_depth', help: 'Events waiting in memory for the writer.', registers: [registry] }),
    sourceErrors: new Counter({ name: 'z4j_source_errors_total', help: 'Connection or consume errors of a source.', labelNames: ['source'], registers: [registry] }),
    sourceHeldSeconds: new Counter({ name: 'z4j_source_held_seconds_total', help: 'Time a lossy source was held back (its socket not read) while the ingest queue was full, instead of dropping.', labelNames: ['source'], registers: [registry] }),
    sourceConnected: new Gauge({ name: 'z4j_source_connected', help: '1 when a source is connected.', labelNames: ['source'], registers: [registry] }),
    authRefused: new Counter({ name: 'z4j_auth_refused_total', help: 'Requests refused by caller authentication (401) or role (403), by code and whether they were audited.', labelNames: ['status', 'code', 'audited'], registers: [registry] }),
    agentBatches: new Counter({ name: 'z4j_agent_batches_total', help: 'Agent batches by transport and outcome (ingested, duplicate, or refused with its reason).', labelNames: ['transport', 'outcome'], registers: [registry] }),
    agentPayloadsDropped: new Counter({ name: 'z4j_agent_payloads_dropped_total', help: 'Retry payloads not stored (too large or malformed); those tasks cannot be retried from z4j.', registers: [registry] }),
    httpRequests: new Counter({ name: 'z4j_http_requests_total', help: 'API requests by route and status.', labelNames: ['route', 'status'], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
