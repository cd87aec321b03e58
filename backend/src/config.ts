// Every environment variable the service reads, with its default and meaning, validated
// together at start. A bad value stops the service with a message naming the variable.
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { AuditKeyError, AuditKeyRing, MAX_AUDIT_KEY_ID, parseAuditKeys } from './audit/keys.js';
import { failoverUrls } from './amqp.js';
import { brokerTls, brokerTlsProblem } from './brokerTls.js';
import { parseSealKeys, SealError, Sealer } from './crypto/seal.js';
import { brokerUrlQuery, isSentinelUrl, parseSentinelUrl } from './redisSentinel.js';
import { KOMBU_REDIS_OPTIONS, layoutOptionsProblem } from './sources/celery/redisLayout.js';

/**
 * A list of keys checked by the rules of what will hold it: `open` builds that (a Sealer, the
 * audit key ring) and throws `refusal` with the reason, so a bad value stops the start with a
 * message naming the variable, not later with one that names none. Reasons quote ids, never keys.
 */
function keyList(open: (value: string) => unknown, refusal: abstract new (...args: never[]) => Error, shape: string) {
  return z
    .string()
    .superRefine((v, ctx) => {
      try {
        open(v);
      } catch (err) {
        if (!(err instanceof refusal)) throw err;
        ctx.addIssue({ code: 'custom', message: `${err.message} (${shape})` });
      }
    })
    .optional();
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
/** kombu's Redis transport options on a Celery broker URL (redisLayout.ts): valid, and only on Redis. */
function celeryBrokerOptions(list: string, ctx: z.RefinementCtx): void {
  for (const url of failoverUrls(list)) {
    if (!isSentinelUrl(url) && !URL.canParse(url)) return ctx.addIssue({ code: 'custom', message: `not a URL: ${url.replace(/\/\/[^@/]*@/, '//')}` });
    const problem = url.startsWith('redis')
      ? layoutOptionsProblem(url)
      : KOMBU_REDIS_OPTIONS.some((o) => new URL(url).searchParams.has(o)) ? `${KOMBU_REDIS_OPTIONS.join(', ')} apply to Redis brokers only` : null;
    if (problem) return ctx.addIssue({ code: 'custom', message: problem });
  }
}
// Redis reached directly or through Sentinel (redisSentinel.ts); RabbitMQ.
const REDIS = /^rediss?(\+sentinel)?:\/\//;
const REDIS_OR_AMQP = /^(rediss?(\+sentinel)?|amqps?):\/\//;
/**
 * A broker URL of the schemes `scheme` matches, whose TLS files (brokerTls.ts) can be read, and
 * whose sentinels and master a redis+sentinel:// one names (redisSentinel.ts). RabbitMQ's may be
 * a failover list of a cluster's nodes (amqp.ts), each checked so.
 */
function brokerUrl(scheme: RegExp, shape: string) {
  return z.string().superRefine((url, ctx) => {
    const problem = brokerUrlProblem(url, scheme, shape);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}
function brokerUrlProblem(url: string, scheme: RegExp, shape: string): string | null {
  const nodes = failoverUrls(url);
  if (!nodes.length || !nodes.every((node) => scheme.test(node))) return shape;
  if (nodes.length > 1 && !nodes.every((node) => /^amqps?:\/\//.test(node))) {
    return 'a failover list (URLs separated by ;) names the nodes of a RabbitMQ cluster; Redis fails over through Sentinel (redis+sentinel://)';
  }
  for (const node of nodes) {
    const problem = brokerTlsProblem(node) ?? (isSentinelUrl(node) ? sentinelUrlProblem(node) : null);
    if (problem) return problem;
  }
  return null;
}
/** What is wrong with a redis+sentinel:// URL as the Redis client gets it: without its TLS files and kombu's options. */
function sentinelUrlProblem(url: string): string | null {
  const parts = brokerUrlQuery(url)!;
  for (const name of KOMBU_REDIS_OPTIONS) parts.query.delete(name);
  try {
    parseSentinelUrl(brokerTls(parts.rebuild()).url);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
/** URLs separated by commas; a comma not followed by a scheme stays in its URL (e.g. priority_steps=0,3,6,9). */
const urlList = z
  .string()
  .transform((s) => s.split(/,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i).map((x) => x.trim()).filter(Boolean));
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));

/** Name → schema (with default) → the doc line the README's configuration table shows. */
export const settings = {
  PORT: [int(0, 65535).default(8080), 'HTTP port of the API.'],
  HOST: [z.string().min(1).default('0.0.0.0'), 'Interface the API binds to.'],
  DATABASE_URL: [
    z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL').optional(),
    'PostgreSQL connection URL. Unset: embedded PGlite in Z4J_DATA_DIR.',
  ],
  Z4J_DATA_DIR: [z.string().min(1).default('./data'), 'Data directory: the embedded PGlite database, and (with any storage) the keys and secret generated when unset (seal.key, audit.key, proxy.secret). Keep it on persistent storage.'],
  Z4J_LOG_LEVEL: [z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), 'Log level (pino).'],
  Z4J_PROJECT: [z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a lowercase slug').default('default'), 'Slug of the project that sources without one report into.'],
  Z4J_BROKER_PROJECTS: [
    list.pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase project slugs'))).optional(),
    "Comma-separated slugs of the projects whose actions (retry, cancel, purge, requeue, worker control) may reach the brokers configured here. A broker's queues and workers belong to everyone who runs on it: list a second project only if its workers really share these brokers. Unset: Z4J_PROJECT alone; other projects observe through their agents but cannot act.",
  ],
  Z4J_CELERY_BROKERS: [
    urlList.pipe(z.array(brokerUrl(REDIS_OR_AMQP, 'redis://, rediss://, redis+sentinel://, amqp:// or amqps:// URLs').superRefine(celeryBrokerOptions))).default([]),
    "Comma-separated Celery broker URLs whose celeryev events are consumed (Redis pub/sub or AMQP). A Redis URL carries the kombu transport options of the app's broker_transport_options that move keys, under kombu's names, when they are not kombu's defaults: ?global_keyprefix=app1:&priority_steps=0,1,2,3,4,5,6,7,8,9&sep=:&fanout_prefix=false (values URL-encoded).",
  ],
  Z4J_CELERY_RESULT_BACKENDS: [
    urlList.pipe(z.array(brokerUrl(REDIS, 'redis://, rediss:// or redis+sentinel:// URLs'))).default([]),
    "Comma-separated Redis URLs of the Celery apps' result backends (their result_backend). Celery's events are pub/sub: those a worker sends while the service restarts, or while its subscriber reconnects after a failover, are lost, and the task would stay enqueued or started in z4j. Every 30 s z4j reads the outcome of the Celery tasks it has heard nothing of for Z4J_CELERY_RESULT_GRACE seconds from these backends (celery-task-meta-<id>, JSON results), and reports it in the task's timeline (markedBy: \"z4j\", with the reason). Unset: not read.",
  ],
  Z4J_CELERY_RESULT_GRACE: [int(10, 86400).default(60), 'Seconds without any event of an open Celery task before its outcome is read from the result backend (Z4J_CELERY_RESULT_BACKENDS), so that the worker\'s own events come first.'],
  Z4J_CELERY_EVENT_EXCHANGE: [z.string().min(1).default('celeryev'), "Celery's event_exchange setting."],
  Z4J_CELERY_CONTROL_EXCHANGE: [z.string().min(1).default('celery'), "Celery's control_exchange setting (pidbox exchange is '<name>.pidbox')."],
  Z4J_CELERY_ENABLE_EVENTS_INTERVAL: [int(0, 86400).default(60), 'Seconds between enable_events broadcasts to Celery workers; 0 turns them off.'],
  Z4J_CELERY_REDIS_HOLD_BYTES: [
    int(0, 1_073_741_824).default(8_388_608),
    "While the ingest queue is full, the Redis event subscriber stops reading until Redis holds this many bytes for it (its omem in CLIENT LIST), then drops (counted) until the queue drains. Keep it within Redis's client-output-buffer-limit for pubsub (8 MB for 60 s, 32 MB at once, by default). 0 drops at once.",
  ],
  Z4J_CELERY_AMQP_QUEUE: [z.string().min(1).default('z4j.celeryev'), 'Durable queue z4j binds to the event exchange on RabbitMQ (shared by replicas).'],
  Z4J_CELERY_AMQP_QUEUE_MAX_BYTES: [
    int(0, 1_099_511_627_776).default(1_073_741_824),
    "Most bytes of Celery events that queue keeps while no z4j reads it (RabbitMQ's x-max-length-bytes; past it the oldest go first), so a z4j stopped for good never fills the broker its Celery shares. Set when z4j creates the queue; an existing queue keeps its arguments (change them with a RabbitMQ policy). 0: no bound.",
  ],
  Z4J_QUEUE_SAMPLE_INTERVAL: [int(0, 3600).default(10), "Seconds between queue depth samples: each queue the projects of Z4J_BROKER_PROJECTS have seen (at most 2,000, the most recently seen first), read through its engine's broker as configured for actions (with them, the Celery queues the project's online workers consume are learnt); 0 turns them off."],
  Z4J_INGEST_BATCH_SIZE: [int(1, 50000).default(2000), 'Most events written in one database transaction.'],
  Z4J_INGEST_WRITERS: [int(1, 16).default(3), 'Concurrent write transactions (each task always goes to the same one, so they never contend for a task).'],
  Z4J_INGEST_FLUSH_MS: [int(0, 10000).default(50), 'Longest wait for a batch to fill before it is written.'],
  Z4J_INGEST_QUEUE_CAPACITY: [int(100, 1_000_000).default(10000), 'Events held in memory between sources and the writer; past it, sources wait or drop (counted).'],
  Z4J_EXPIRY_SWEEP_INTERVAL: [int(0, 3600).default(30), "Seconds between sweeps that mark expired the tasks whose expiry (Celery's expires, an RQ job's ttl) passed while they waited, which no engine reports for all of them (RQ drops the job silently); 0 turns them off."],
  Z4J_EXPIRY_GRACE: [int(0, 86400).default(60), "Seconds past a waiting task's expiry before the sweep marks it expired, so that a worker's own report comes first."],
  Z4J_SCHEDULER_INTERVAL: [int(0, 3600).default(5), 'Seconds between rounds of the scheduler, which sends the schedules that are due (docs/schedules.md; safe on every replica: each due time fires once); 0 turns it off on this replica.'],
  Z4J_CLOCK_SKEW_TOLERANCE: [int(0, 86400).default(300), "Seconds an event's time may be past its receipt (a sender's clock ahead) and still be kept; an event further ahead is stored at its receipt, how far ahead it was kept in its fields (clockSkewMs) and counted."],
  Z4J_PARTITION_DAYS_AHEAD: [int(1, 90).default(7), 'Daily task_events partitions created ahead of today.'],
  Z4J_MAX_FIELD_CHARS: [int(256, 1_000_000).default(32768), 'Longest args / kwargs / result / traceback text kept per task (longer is cut, marked).'],
  Z4J_PRETTY_LOGS: [bool.default(false), 'Human-readable logs instead of JSON.'],
  Z4J_AGENT_REDIS_URLS: [
    urlList.pipe(z.array(brokerUrl(REDIS, 'redis://, rediss:// or redis+sentinel:// URLs'))).default([]),
    'Comma-separated Redis URLs whose agent streams (z4j:events:<project>) are consumed (consumer group Z4J_AGENT_STREAM_GROUP). Redis through Sentinel: redis+sentinel://[:password@]host:26379[,host:26379]/mymaster[/db][?sentinel_password=...], as the agents read it (agent/README.md); every Redis setting here takes that form too.',
  ],
  Z4J_AGENT_STREAM_GROUP: [
    z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'letters, digits and . _ : - (at most 64)').default('z4j'),
    "Consumer group this deployment reads agent streams with (the replicas of one deployment share it). A second z4j deployment whose agents use the same Redis database needs a group of its own (e.g. z4j-staging): sharing one, each would take batches of the other's agents and refuse them.",
  ],
  Z4J_AGENT_AMQP_URLS: [
    list.pipe(z.array(brokerUrl(/^amqps?:\/\//, 'amqp:// or amqps:// URLs'))).default([]),
    'Comma-separated RabbitMQ URLs whose agent queue (Z4J_AGENT_AMQP_QUEUE) is consumed. A RabbitMQ cluster: its nodes separated by ; (amqp://node-1//;amqp://node-2//), tried in turn; every RabbitMQ setting here takes that form too.',
  ],
  Z4J_AGENT_AMQP_QUEUE: [z.string().min(1).default('z4j.events'), 'Durable RabbitMQ queue agents publish their batches to.'],
  Z4J_AGENT_AMQP_QUEUE_MAX_BYTES: [
    int(0, 1_099_511_627_776).default(1_073_741_824),
    "Most bytes of agent batches that queue keeps while no z4j reads it (x-max-length-bytes; past it the oldest go first). Set by whichever of the service and the agents creates the queue (the agents' Z4J_AMQP_QUEUE_MAX_BYTES has the same default); an existing queue keeps its arguments (change them with a RabbitMQ policy). 0: no bound.",
  ],
  Z4J_AGENT_CLAIM_IDLE_MS: [int(1000, 3_600_000).default(60000), 'Milliseconds an agent stream entry may stay unacknowledged by a consumer before another claims it.'],
  Z4J_AGENT_NONCE_RETENTION_DAYS: [int(1, 365).default(7), 'Days batch nonces are remembered (replays are refused within them); keep it longer than agent streams retain entries.'],
  Z4J_RQ_REDIS_URL: [
    brokerUrl(REDIS, 'a redis://, rediss:// or redis+sentinel:// URL').optional(),
    'Redis of your RQ workers (the connection they use). Set it to act on RQ jobs, queues and workers.',
  ],
  Z4J_DRAMATIQ_REDIS_URL: [
    brokerUrl(REDIS, 'a redis://, rediss:// or redis+sentinel:// URL').optional(),
    'Redis of your Dramatiq workers (RedisBroker). Set it to act on Dramatiq messages and queues, and to send commands to the agents in its workers (terminate).',
  ],
  Z4J_DRAMATIQ_NAMESPACE: [
    z.string().regex(/^\S+$/, 'the RedisBroker namespace: no spaces').default('dramatiq'),
    'The namespace of your Dramatiq RedisBroker (its keys are <namespace>:<queue>): RedisBroker(namespace=...) if you set one.',
  ],
  Z4J_DRAMATIQ_BROKER_URL: [
    brokerUrl(REDIS_OR_AMQP, 'a redis://, rediss://, redis+sentinel://, amqp:// or amqps:// URL').optional(),
    'Broker of your Dramatiq workers, the driver picked by its scheme: redis:// (RedisBroker, as Z4J_DRAMATIQ_REDIS_URL) or amqp:// (RabbitmqBroker: retry, purge, requeue of dead letters, terminate and cancel through the agents). Wins over Z4J_DRAMATIQ_REDIS_URL.',
  ],
  Z4J_ARQ_REDIS_URL: [
    brokerUrl(REDIS, 'a redis://, rediss:// or redis+sentinel:// URL').optional(),
    'Redis of your arq workers. Set it to cancel, abort and purge arq jobs (workers need allow_abort_jobs = True), and to send commands to the agents in its workers (retry).',
  ],
  Z4J_TASKIQ_REDIS_URL: [
    brokerUrl(REDIS, 'a redis://, rediss:// or redis+sentinel:// URL').optional(),
    'Redis of your taskiq-redis ListQueueBroker. Set it to act on taskiq messages and queues, and to send commands to the agents in its workers (terminate).',
  ],
  Z4J_TASKIQ_BROKER_URL: [
    brokerUrl(REDIS_OR_AMQP, 'a redis://, rediss://, redis+sentinel://, amqp:// or amqps:// URL').optional(),
    'Broker of your taskiq workers, the driver picked by its scheme: redis:// (taskiq-redis ListQueueBroker, as Z4J_TASKIQ_REDIS_URL) or amqp:// (taskiq-aio-pika: retry, purge, requeue of dead letters, terminate and cancel through the agents). Wins over Z4J_TASKIQ_REDIS_URL.',
  ],
  Z4J_TASKIQ_DEAD_LETTER_QUEUE: [z.string().min(1).max(255).default('taskiq.dead_letter'), "The dead_letter_queue name of your taskiq-aio-pika AioPikaBroker (requeue of dead letters reads it)."],
  Z4J_HUEY_REDIS_URL: [
    brokerUrl(REDIS, 'a redis://, rediss:// or redis+sentinel:// URL').optional(),
    'Redis of your RedisHuey instances. Set it to revoke queued Huey tasks and purge Huey queues (a queue is a Huey name), and to send commands to the agents in its consumers (retry, terminate).',
  ],
  Z4J_QUERY_TIMEOUT_S: [int(1, 3600).default(20), "Longest an explorer read (task list and search, a task, its graph, task names, workers, queues) may run on PostgreSQL before it is cancelled (503 QUERY_TIMEOUT). These reads have a pool of their own (4 connections), so searches cannot hold up ingest."],
  Z4J_BULK_MAX_TASKS: [int(1, 1_000_000).default(10000), 'Most tasks one bulk retry or bulk cancel may act on.'],
  Z4J_WORKER_LOST_AFTER: [int(10, 86400).default(60), "Seconds a worker must have been silent (and three heartbeat periods at least) before the tasks it holds are called lost with it, and a started one may be retried. Celery's solo pool sends no heartbeat while a task runs: raise it above your longest task there. A worker that said it went offline counts at once."],
  Z4J_COMMAND_TIMEOUT: [int(5, 86400).default(120), 'Seconds an action waits for the engine to confirm it (e.g. a cancel seen as revoked) before it is marked timed out; an agent command expires then too (the agent never runs it later).'],
  Z4J_SEAL_KEYS: [
    keyList((v) => { const keys = parseSealKeys(v); return keys && new Sealer(keys); }, SealError, 'comma-separated <id>:<base64 of 32 bytes>, id 1..255, newest last'),
    'AES-256-GCM keys that seal retry payloads and agent secrets (`<id>:<base64 32 bytes>`, id 1..255, newest last; old ones keep opening old values). Unset: a key generated once in Z4J_DATA_DIR/seal.key (fine for one embedded instance; set it for PostgreSQL and replicas).',
  ],
  // Identity and trust (see README "Connecting Grafana").
  Z4J_PROXY_SECRET: [
    z.string().min(16, 'at least 16 characters').max(512).optional(),
    'Shared secret the Grafana plugin proxy adds as `X-Z4J-Proxy-Secret`; calls without it (or an API token) get 401. Unset: one generated once into Z4J_DATA_DIR/proxy.secret (paste it into the plugin configuration page).',
  ],
  Z4J_METRICS_TOKEN: [
    z.string().min(16, 'at least 16 characters').max(512).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces (it is sent in an HTTP header)').optional(),
    "Bearer token /metrics then requires (`Authorization: Bearer <token>`, Prometheus's `authorization: {credentials: ...}`); other scrapes get 401. Unset: /metrics answers without credentials, as Prometheus scrapes by default; it names no broker (sources are celery-redis-1, …), but says how busy z4j is.",
  ],
  GRAFANA_URL: [
    z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).optional(),
    'URL the service reaches Grafana at. Set: every proxied call must carry a valid `X-Grafana-Id` token (Grafana feature toggle `idForwarding`), verified with `<GRAFANA_URL>/api/signing-keys/keys`.',
  ],
  Z4J_GRAFANA_ID_ISSUER: [
    z.string().min(1).optional(),
    "Expected `iss` of Grafana ID tokens (Grafana's root_url). Unset: GRAFANA_URL.",
  ],
  Z4J_AUDIT_KEYS: [
    keyList((v) => { const keys = parseAuditKeys(v); return keys && new AuditKeyRing(keys); }, AuditKeyError, `comma-separated <id>:<base64 of 32+ bytes>, id 1..${MAX_AUDIT_KEY_ID}, newest last`),
    'HMAC-SHA256 keys of the audit chain (`<id>:<base64 32+ bytes>`, id 1..2147483647, newest last; old ones keep verifying old rows). Unset: keys kept in Z4J_DATA_DIR/audit.key (generated once; POST /api/audit/rotate-key, a Grafana server admin\'s, adds one).',
  ],
  Z4J_ALERTING_PASSWORD: [
    z.string().regex(/^[\x21-\x7e]{12,}$/, '12 or more printable ASCII characters, no spaces').optional(),
    "Password of the database role `z4j alerting grant <role>` creates when it does not exist yet (LOGIN, no other right: it reads the z4j_alerting views only); Grafana's PostgreSQL data source logs in with it. Sent to PostgreSQL hashed (SCRAM-SHA-256). An existing role's password is left as it is.",
  ],
  Z4J_AUDIT_RETENTION_DAYS: [int(0, 36500).default(0), 'Audit rows older than this are pruned (leaving a MAC-protected watermark); 0 keeps them forever.'],
  Z4J_AGENT_KEYS: [
    list.pipe(z.array(z.string().regex(/^[A-Za-z0-9._-]{1,128}@[a-z0-9][a-z0-9-]{0,62}:.{16,}$/, '<agent id>@<project>:<secret of 16+ characters>'))).default([]),
    'Bootstrap agent credentials, comma-separated `<agent id>@<project>:<secret>` (tests, demos); credentials minted in the API are kept sealed in the database.',
  ],
  Z4J_SMTP_URL: [
    z.string().regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL').optional(),
    'SMTP server invitations are sent through, e.g. `smtps://user:pass@mail.example.com:465`. Unset: invitations cannot be sent.',
  ],
  Z4J_SMTP_FROM: [z.string().min(3).default('z4j <z4j@localhost>'), 'From address of invitation mails.'],
  Z4J_INVITATION_URL: [
    z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).optional(),
    "Page an invitation link opens (the token is appended as `?token=`). Unset: `<GRAFANA_URL or http://localhost:3000>/a/z4j-taskqueue-app/invitation`.",
  ],
  Z4J_INVITATIONS_PER_HOUR: [int(1, 10000).default(20), 'Most invitations one person may send per project per hour.'],
  Z4J_INVITATIONS_VERIFIED_EMAIL: [
    bool.default(false),
    "Accept an invitation only from a Grafana user whose email Grafana verified, as the signed ID token says (`email_verified`), and compare the invited address with the token's. Needs GRAFANA_URL. Set it where Grafana users can set their own email (basic auth): otherwise one holding a forwarded or leaked link can set theirs to the invited address and accept it.",
  ],
} as const satisfies Record<string, [z.ZodType, string]>;

type Settings = typeof settings;
export type Config = { [K in keyof Settings]: z.output<Settings[K][0]> };

export class ConfigError extends Error {}

/** Settings that are secrets as a whole: a refusal goes to stderr and logs, so it never quotes them. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set(['Z4J_SEAL_KEYS', 'Z4J_AUDIT_KEYS', 'Z4J_PROXY_SECRET', 'Z4J_METRICS_TOKEN', 'Z4J_AGENT_KEYS', 'Z4J_ALERTING_PASSWORD']);

/** A refused value as the message quotes it: a secret by its length only, a URL without its passwords (a sentinel URL has two). */
function shownValue(name: string, raw: string | undefined): string {
  if (raw !== undefined && SECRET_SETTINGS.has(name)) return `(${raw.length} characters, not shown)`;
  return JSON.stringify(raw?.replace(/\/\/[^@/\s]*@/g, '//…@').replace(/([?&]sentinel_password=)[^&\s,]*/g, '$1…'));
}

/** Reads and validates the whole configuration; throws one error listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, [schema]] of Object.entries(settings)) {
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${name}=${shownValue(name, raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (out.Z4J_INVITATIONS_VERIFIED_EMAIL && !out.GRAFANA_URL) problems.push('Z4J_INVITATIONS_VERIFIED_EMAIL=true needs GRAFANA_URL: only the ID tokens Grafana signs say which emails it verified');
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return { ...(out as Config), ...overrides };
}

/**
 * The agent's own variables (agent/README.md), which may be set beside the service on one box
 * (a developer's, a CI job's): not misspellings of the service's, however close.
 */
const AGENT_SETTINGS = new Set([
  'Z4J_AGENT_ID', 'Z4J_AGENT_SECRET', 'Z4J_AMQP_QUEUE', 'Z4J_AMQP_QUEUE_MAX_BYTES', 'Z4J_BATCH_SIZE', 'Z4J_BROKER_URL', 'Z4J_BUFFER_MAX_BYTES', 'Z4J_BUFFER_SIZE',
  'Z4J_EXIT_FLUSH_TIMEOUT', 'Z4J_FLUSH_INTERVAL', 'Z4J_HEARTBEAT_INTERVAL', 'Z4J_HTTP_URL', 'Z4J_KEEP_KEYS', 'Z4J_REDACT_KEYS', 'Z4J_SAMPLE', 'Z4J_STREAM_MAXLEN',
  'Z4J_TASK_POLICIES', 'Z4J_TRANSPORT',
]);
const MAX_TYPO_EDITS = 2;

/**
 * Variables named like a setting that are not one: a Z4J_* name within two edits of a setting's
 * (Z4J_CELERY_BROKER, Z4J_SEAL_KEY, Z4J_PROXY_SECERT, Z4J_DATABASE_URL), each with the setting
 * it resembles. Such
 * a typo leaves the setting at its default without a word, so the service says so at start.
 * Names further from every setting are left alone: the agent's, scripts', other tools'.
 */
export function misspelledSettings(env: Record<string, string | undefined> = process.env): { name: string; meant: string }[] {
  // The settings without the prefix (PORT, DATABASE_URL, GRAFANA_URL) as one would misname
  // them with it (Z4J_DATABASE_URL).
  const byForm = new Map(Object.keys(settings).map((k) => [k.startsWith('Z4J_') ? k : `Z4J_${k}`, k]));
  const forms = [...byForm.keys()];
  const out: { name: string; meant: string }[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('Z4J_') || name in settings || AGENT_SETTINGS.has(name)) continue;
    const form = closest(name, forms);
    if (distance(name, form) <= MAX_TYPO_EDITS) out.push({ name, meant: byForm.get(form)! });
  }
  return out;
}

/** The projects whose actions may reach the configured brokers: Z4J_BROKER_PROJECTS, else Z4J_PROJECT alone. */
export function brokerProjects(config: Pick<Config, 'Z4J_BROKER_PROJECTS' | 'Z4J_PROJECT'>): ReadonlySet<string> {
  return new Set(config.Z4J_BROKER_PROJECTS ?? [config.Z4J_PROJECT]);
}
