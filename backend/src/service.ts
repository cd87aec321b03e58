// Assembles the service: storage and migrations, the ingest pipeline, the sources, the
// background loops, and the HTTP API. `startService` is what main.ts and the tests call.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActionService } from './actions/actionService.js';
import { AgentCommands } from './actions/agentCommands.js';
import { BulkActions } from './actions/bulk.js';
import { reconcileCommands } from './actions/commands.js';
import { DbPayloadStore } from './actions/payloads.js';
import { sampleQueueDepths } from './actions/queueDepths.js';
import { CeleryPoolSizes, onlineCeleryWorkers } from './sources/celery/poolSizes.js';
import { createApp } from './api/app.js';
import { CeleryDriver } from './engines/celery/driver.js';
import { ArqDriver } from './engines/arq/driver.js';
import { dramatiqDriver, taskiqDriver } from './engines/registry.js';
import { HueyDriver } from './engines/huey/driver.js';
import { RqDriver } from './engines/rq/driver.js';
import type { EngineDriver } from './engines/driver.js';
import type { Engine } from './ingest/envelope.js';
import type { AuditLog } from './audit/chain.js';
import { createIdentity, type AuthSettings } from './auth/identity.js';
import { brokerProjects, type Config } from './config.js';
import type { Sealer } from './crypto/seal.js';
import { sealerFromConfig } from './crypto/sealerFromConfig.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/open.js';
import { openPostgres } from './db/postgres.js';

/** Connections of the explorer's read pool (PostgreSQL). */
const READ_POOL_SIZE = 4;
import { ensurePartitions } from './db/partitions.js';
import type { AgentKeyStore } from './ingest/agentKeys.js';
import { AgentIngest } from './ingest/agentIngest.js';
import { sweepExpiredTasks } from './ingest/expirySweep.js';
import { CeleryResultSweep } from './sources/celery/resultBackend.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { createLogger, type Logger } from './logger.js';
import { Scheduler } from './schedules/scheduler.js';
import { ScheduleSender } from './schedules/send.js';
import { createMetrics, type Metrics } from './metrics.js';
import { AgentAmqpSource } from './sources/agent/amqpSource.js';
import { AgentRedisStreamSource } from './sources/agent/redisStreamSource.js';
import { CeleryAmqpSource } from './sources/celery/amqpSource.js';
import { CeleryRedisSource } from './sources/celery/redisSource.js';
import { nameSources, type Source } from './sources/source.js';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface Service {
  config: Config;
  db: Db;
  pipeline: IngestPipeline;
  sources: Source[];
  metrics: Metrics;
  log: Logger;
  sealer: Sealer;
  actions: ActionService;
  bulk: BulkActions;
  /** Stores agent batches, whichever transport brought them. */
  agentIngest: AgentIngest;
  /** Who may send agent batches: database credentials (sealed, revocation bites within 5 s), then Z4J_AGENT_KEYS. */
  agentKeys: AgentKeyStore;
  audit: AuditLog;
  auth: AuthSettings;
  /** Where the API listens, e.g. http://127.0.0.1:8080. */
  url: string;
  stop(): Promise<void>;
}

/** Seconds between rounds of the Celery result backend sweep (a page per project and open state each). */
const RESULT_SWEEP_INTERVAL_S = 30;

/**
 * A background loop that logs and carries on when one round fails. A round still running when
 * the next is due is not joined by another (a bulk chunk or a slow sample can outlast the period).
 */
function every(seconds: number, log: Logger, what: string, fn: () => Promise<unknown>): NodeJS.Timeout | null {
  if (seconds <= 0) return null;
  let running = false;
  const t = setInterval(() => {
    if (running) return;
    running = true;
    fn().catch((err) => log.warn({ err: String(err) }, `${what} failed; will try again`)).finally(() => { running = false; });
  }, seconds * 1000);
  t.unref();
  return t;
}

function celerySources(config: Config, pipeline: IngestPipeline, metrics: Metrics, log: Logger): (CeleryRedisSource | CeleryAmqpSource)[] {
  const target = { pipeline, project: config.Z4J_PROJECT };
  const common = {
    eventExchange: config.Z4J_CELERY_EVENT_EXCHANGE,
    controlExchange: config.Z4J_CELERY_CONTROL_EXCHANGE,
    enableEventsIntervalS: config.Z4J_CELERY_ENABLE_EVENTS_INTERVAL,
  };
  return nameSources(config.Z4J_CELERY_BROKERS, (url) => (url.startsWith('redis') ? 'celery-redis' : 'celery-amqp')).map(({ url, name }) =>
    url.startsWith('redis')
      ? new CeleryRedisSource({ url, name, ...common, holdBytes: config.Z4J_CELERY_REDIS_HOLD_BYTES }, target, metrics, log)
      : new CeleryAmqpSource({ url, name, ...common, queue: config.Z4J_CELERY_AMQP_QUEUE, maxQueueBytes: config.Z4J_CELERY_AMQP_QUEUE_MAX_BYTES }, target, metrics, log),
  );
}

/**
 * The queues the project's online Celery workers consume (`celery inspect active_queues`), into
 * `queues`. Celery's events name a task's queue only in task-sent, which producers do not send
 * by default: without this, those queues would be unknown to z4j, unlisted and not purgeable.
 */
async function discoverCeleryQueues(db: Db, projectSlug: string, sources: (CeleryRedisSource | CeleryAmqpSource)[], workers: string[]): Promise<void> {
  if (!workers.length) return;
  const replies = (await Promise.all(sources.map((s) => s.request('active_queues', {}, workers, 2000).catch(() => [])))).flat();
  const names = new Set<string>();
  for (const reply of replies) {
    for (const queues of Object.values(reply)) {
      if (!Array.isArray(queues)) continue;
      for (const q of queues) if (typeof q?.name === 'string' && q.name.length <= 255 && !q.name.includes('\u0000')) names.add(q.name);
    }
  }
  if (!names.size) return;
  await db.query(
    `INSERT INTO queues AS q (project_id, engine, name, first_seen_at, last_seen_at)
     SELECT p.id, 'celery', u.n, now(), now() FROM projects p, unnest($2::text[]) AS u(n) WHERE p.slug = $1
     ON CONFLICT (project_id, engine, name) DO UPDATE SET last_seen_at = greatest(q.last_seen_at, now())`,
    [projectSlug, [...names]],
  );
}

/** Prunes every project's audit rows older than the retention (each leaves its watermark) and audits the pruning. */
async function pruneAuditLogs(db: Db, audit: AuditLog, days: number, log: Logger): Promise<void> {
  const before = new Date(Date.now() - days * 86_400_000);
  const projects = (await db.query<{ id: number }>('SELECT project_id AS id FROM audit_chain')).rows;
  for (const { id } of projects) {
    const pruned = await audit.prune(Number(id), before);
    if (!pruned) continue;
    log.info({ projectId: id, pruned }, 'audit rows pruned');
    await audit.append({ projectId: Number(id), actor: { kind: 'system', id: null, name: 'retention' }, action: 'audit.prune', outcome: 'ok', detail: { rows: pruned, before: before.toISOString(), retentionDays: days } });
  }
}

export async function startService(config: Config, opts: { log?: Logger } = {}): Promise<Service> {
  const log = opts.log ?? createLogger(config.Z4J_LOG_LEVEL, config.Z4J_PRETTY_LOGS);
  const metrics = createMetrics();
  const sealer = sealerFromConfig(config, log);
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.Z4J_DATA_DIR });
  try {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, 'migrations applied');
    await ensurePartitions(db, new Date(), config.Z4J_PARTITION_DAYS_AHEAD);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }

  const pipeline = new IngestPipeline(
    db,
    {
      capacity: config.Z4J_INGEST_QUEUE_CAPACITY,
      batchSize: config.Z4J_INGEST_BATCH_SIZE,
      writers: config.Z4J_INGEST_WRITERS,
      flushMs: config.Z4J_INGEST_FLUSH_MS,
      maxFieldChars: config.Z4J_MAX_FIELD_CHARS,
      maxClockAheadMs: config.Z4J_CLOCK_SKEW_TOLERANCE * 1000,
    },
    metrics,
    log,
  );
  pipeline.start();

  const identity = createIdentity(config, db, sealer, log);
  const agentIngest = new AgentIngest(db, pipeline, sealer, metrics, identity.audit);
  const celery = celerySources(config, pipeline, metrics, log);
  const agentStreams = nameSources(config.Z4J_AGENT_REDIS_URLS, () => 'agent-redis').map(
    ({ url, name }) => new AgentRedisStreamSource({ url, name, group: config.Z4J_AGENT_STREAM_GROUP, claimIdleMs: config.Z4J_AGENT_CLAIM_IDLE_MS }, identity.agentKeys, agentIngest, metrics, log),
  );
  const agentQueues = nameSources(config.Z4J_AGENT_AMQP_URLS, () => 'agent-amqp').map(
    ({ url, name }) => new AgentAmqpSource({ url, name, queue: config.Z4J_AGENT_AMQP_QUEUE, maxQueueBytes: config.Z4J_AGENT_AMQP_QUEUE_MAX_BYTES }, identity.agentKeys, agentIngest, metrics, log),
  );
  const sources: Source[] = [...celery, ...agentStreams, ...agentQueues];
  // Metrics and logs name a source by kind and position only: this line tells which broker each is.
  if (sources.length) log.info({ sources: Object.fromEntries(sources.map((s) => [s.name, s.status().broker])) }, 'sources (name: broker)');
  await Promise.all(sources.map((s) => s.start().catch((err) => log.warn({ source: s.name, err: String(err) }, 'source did not start; retrying in background'))));

  const drivers = new Map<Engine, EngineDriver>([['celery', new CeleryDriver(celery)]]);
  if (config.Z4J_RQ_REDIS_URL) drivers.set('rq', new RqDriver(config.Z4J_RQ_REDIS_URL));
  const dramatiqUrl = config.Z4J_DRAMATIQ_BROKER_URL ?? config.Z4J_DRAMATIQ_REDIS_URL;
  if (dramatiqUrl) drivers.set('dramatiq', dramatiqDriver(dramatiqUrl, config.Z4J_DRAMATIQ_NAMESPACE));
  if (config.Z4J_HUEY_REDIS_URL) drivers.set('huey', new HueyDriver(config.Z4J_HUEY_REDIS_URL));
  if (config.Z4J_ARQ_REDIS_URL) drivers.set('arq', new ArqDriver(config.Z4J_ARQ_REDIS_URL));
  const taskiqUrl = config.Z4J_TASKIQ_BROKER_URL ?? config.Z4J_TASKIQ_REDIS_URL;
  if (taskiqUrl) drivers.set('taskiq', taskiqDriver(taskiqUrl, config.Z4J_TASKIQ_DEAD_LETTER_QUEUE));
  const actions = new ActionService(db, drivers, new DbPayloadStore(db, sealer), log, {
    recordEvent: (c, sealed) => pipeline.offer('z4j-actions', c, undefined, sealed),
    recordEvents: (cs, done, signal) => pipeline.offerUnhurried('z4j-actions', cs, done, signal),
    agentCommands: new AgentCommands(db, identity.agentKeys),
    commandTimeoutS: config.Z4J_COMMAND_TIMEOUT,
    workerLostAfterS: config.Z4J_WORKER_LOST_AFTER,
    brokerProjects: brokerProjects(config),
  });

  const bulk = new BulkActions(db, actions, log, config.Z4J_BULK_MAX_TASKS, undefined, identity.audit);
  const schedules = new ScheduleSender(db, actions, sealer, metrics, log, identity.audit);
  // Safe on every replica at once: each due time is claimed by one (schedules/scheduler.ts).
  const scheduler = new Scheduler(db, schedules, log);
  scheduler.start(config.Z4J_SCHEDULER_INTERVAL);

  // Safe on every replica at once: an outcome's event id is the same whoever reads it.
  const resultSweep = config.Z4J_CELERY_RESULT_BACKENDS.length
    ? new CeleryResultSweep(db, config.Z4J_CELERY_RESULT_BACKENDS, (source, event) => pipeline.offer(source, event), metrics, log, { graceMs: config.Z4J_CELERY_RESULT_GRACE * 1000 })
    : null;
  const celeryPoolSizes = new CeleryPoolSizes(db, config.Z4J_PROJECT, celery);
  const timers = [
    every(1, log, 'bulk actions', () => bulk.runOnce()),
    every(2, log, 'command reconciliation', () => reconcileCommands(db, config.Z4J_COMMAND_TIMEOUT, identity.audit)),
    every(3600, log, 'agent nonce pruning', () => db.query(`DELETE FROM agent_batches WHERE received_at < now() - make_interval(days => $1)`, [config.Z4J_AGENT_NONCE_RETENTION_DAYS])),
    // Samples of rejected events are for diagnosis, not history: a week of them, whatever the rate.
    every(3600, log, 'reject sample pruning', () => db.query(`DELETE FROM ingest_rejects WHERE received_at < now() - interval '7 days'`)),
    every(resultSweep ? RESULT_SWEEP_INTERVAL_S : 0, log, 'celery result backend sweep', () => resultSweep!.runOnce()),
    every(config.Z4J_EXPIRY_SWEEP_INTERVAL, log, 'expiry sweep', () => sweepExpiredTasks(db, metrics, log, { graceMs: config.Z4J_EXPIRY_GRACE * 1000 })),
    every(3600, log, 'partition maintenance', () => ensurePartitions(db, new Date(), config.Z4J_PARTITION_DAYS_AHEAD)),
    every(config.Z4J_QUEUE_SAMPLE_INTERVAL, log, 'queue depth sampling', async () => {
      // One read of the online Celery workers for both rounds of control requests.
      const online = celery.length ? await onlineCeleryWorkers(db, config.Z4J_PROJECT) : [];
      await discoverCeleryQueues(db, config.Z4J_PROJECT, celery, online);
      await celeryPoolSizes.sample(online);
      await sampleQueueDepths(db, [...brokerProjects(config)], drivers);
    }),
    // What a crashed replica held of a purge's or requeue's task events, once its claim has run out.
    every(30, log, 'queue action task events', () => actions.followups.drain()),
    every(config.Z4J_AUDIT_RETENTION_DAYS > 0 ? 3600 : 0, log, 'audit retention', () => pruneAuditLogs(db, identity.audit, config.Z4J_AUDIT_RETENTION_DAYS, log)),
  ];

  // What a stopped service left of a purge's or requeue's task events (drain logs its own failures).
  void actions.followups.drain();

  const reads = config.DATABASE_URL
    ? openPostgres(config.DATABASE_URL, READ_POOL_SIZE, { statementTimeoutMs: config.Z4J_QUERY_TIMEOUT_S * 1000, applicationName: 'z4j-reads' })
    : db; // PGlite is one connection in this process: nothing to share out
  const app = createApp({ db, reads, config, metrics, pipeline, sources, log, sealer, actions, bulk, schedules, agentIngest, version: VERSION, ...identity });
  const server: Server = await new Promise((resolve, reject) => {
    // Express 5 hands listen's error to this callback (a port already taken), not to 'error' alone.
    const s = app.listen(config.PORT, config.HOST, (err?: Error) => (err ? reject(listenError(err, config.HOST, config.PORT)) : resolve(s)));
  });
  const addr = server.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = `http://${host}:${addr.port}`;
  log.info({ url, storage: db.storage, sources: sources.map((s) => s.name) }, 'z4j service listening');

  let stopped = false;
  return {
    config, db, pipeline, sources, metrics, log, sealer, actions, bulk, agentIngest, url, ...identity,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) if (t) clearInterval(t);
      await scheduler.stop(); // a round under way finishes its sends before the drivers close
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await Promise.all(sources.map((s) => s.stop()));
      await resultSweep?.stop();
      await Promise.all([...drivers.values()].map((d) => d.close?.()));
      // A purge's or requeue's task events not yet recorded stay in the database for the next start.
      await actions.followups.stop();
      await pipeline.stop();
      if (reads !== db) await reads.close();
      await db.close();
      log.info('z4j service stopped');
    },
  };
}

/** Why the API could not listen, in words that say what to change. */
export class ListenError extends Error {}

function listenError(err: Error, host: string, port: number): Error {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return new ListenError(`port ${port} on ${host} is already in use: stop what listens there, or set PORT to another port`);
  if (code === 'EACCES') return new ListenError(`no permission to listen on port ${port} on ${host}: use a port above 1023, or set PORT`);
  if (code === 'EADDRNOTAVAIL') return new ListenError(`${host} is not an address of this machine: set HOST to one (0.0.0.0 for all)`);
  return err;
}
