// Shapes exchanged with the z4j service (mirrors the service's OpenAPI document, served at
// /api/openapi.json) and the app's plugin settings stored by Grafana.

/** GET /api/healthz */
export interface ServiceHealth {
  status: string;
  version: string;
  storage: 'postgres' | 'pglite';
  engines?: Array<{ engine: string; lastSeenAt: string }>;
}

/** Every service error: `{error: {code, message}}`. */
export interface ServiceErrorBody {
  error: { code: string; message: string };
}

/** The app's jsonData (readable by every user of the org: no secrets here). */
export interface AppSettings {
  serviceUrl?: string;
}

/** The app's secureJsonData: write-only from the browser, added to proxied requests by Grafana. */
export interface AppSecureSettings {
  proxySecret?: string;
}

export const ENGINES = ['celery', 'rq', 'dramatiq', 'huey', 'arq', 'taskiq'] as const;
export type Engine = (typeof ENGINES)[number];

/** A task's state is the kind of the latest event that moved it (see the service's precedence order). */
export const TASK_STATES = [
  'enqueued',
  'received',
  'started',
  'succeeded',
  'failed',
  'retried',
  'revoked',
  'rejected',
  'expired',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export type ProjectRole = 'viewer' | 'operator' | 'admin' | 'owner';

/** GET /api/tasks (rows) and the `task` of GET /api/tasks/:engine/:taskId. */
export interface Task {
  id: string;
  engine: Engine;
  taskId: string;
  name: string | null;
  queue: string | null;
  state: TaskState;
  args: unknown;
  kwargs: unknown;
  result: unknown;
  exception: string | null;
  worker: string | null;
  retries: number | null;
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  eta: string | null;
  sentAt: string | null;
  receivedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  runtimeMs: number | null;
  waitMs: number | null;
  firstSeenAt: string;
  lastEventAt: string;
}

export interface TaskPage {
  tasks: Task[];
  nextCursor: string | null;
}

export interface TaskEvent {
  id: string;
  kind: string;
  occurredAt: string;
  worker: string | null;
  fields: Record<string, unknown> | null;
}

export interface WorkerGone {
  hostname: string;
  /** When z4j last heard from it. */
  lastSeenAt: string;
  /** When it said it went offline; null when it just fell silent (killed, or its host lost). */
  offlineAt: string | null;
}

export interface TaskDetail {
  task: Task & {
    traceback: string | null;
    retryOf: string | null;
    retriedAs: string[];
    /** z4j holds the sealed original call (captured by the agent), so a retry can re-send it. */
    hasPayload?: boolean;
    /**
     * The worker of a received or started task, when it is gone (offline, or silent for three
     * heartbeat periods and a minute) while the task is in its hands; null otherwise. A started one can be retried.
     */
    workerGone?: WorkerGone | null;
  };
  events: TaskEvent[];
  children: Array<{ engine: Engine; taskId: string; name: string | null; state: TaskState }>;
}

export interface GraphNode {
  engine: Engine;
  taskId: string;
  name: string | null;
  state: TaskState;
  queue: string | null;
  runtimeMs: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  parentId: string | null;
  groupId: string | null;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: 'chain' | 'group' | 'retry';
}

export interface TaskGraph {
  rootId: string;
  truncated: boolean;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface Worker {
  engine: Engine;
  hostname: string;
  online: boolean;
  firstSeenAt: string;
  lastSeenAt: string;
  offlineAt: string | null;
  heartbeatS: number | null;
  active: number | null;
  processed: number | null;
  loadavg: number[] | null;
  pid: number | null;
  software: string | null;
  /** Pool size / threads / max jobs, from agents. */
  concurrency: number | null;
  /** Events the worker's agent dropped (its buffer was full): the timeline may have gaps. */
  dropped: number | null;
  /** Tasks the worker's agent sent without their retry payload (too big, or holding a value JSON cannot carry
   * exactly, such as a datetime; each task's timeline says why in `payloadOmitted`): not retryable from z4j. */
  payloadsDropped: number | null;
  failed24h: number;
}

export interface Queue {
  engine: Engine;
  name: string;
  firstSeenAt: string;
  lastSeenAt: string;
  depth: number | null;
  depthAt: string | null;
}

export interface Me {
  user: { login: string; name: string | null; email: string | null };
  /** `name` is null for a caller with no role in the project. */
  project: { slug: string; name: string | null };
  role: ProjectRole | null;
  grafanaRole: string | null;
  isGrafanaAdmin: boolean;
}

export type Capability = string; // `task.retry`, `queue.purge`, `worker.shutdown`, …

export interface CapabilityRow {
  capability: Capability;
  label: string;
  engines: Record<string, { via: 'broker' | 'agent'; note?: string } | null>;
}

export interface Capabilities {
  /** The engines the service has a driver for (Celery's exists even without brokers). */
  engines: Engine[];
  /**
   * The engines a call can be sent with as a new task in this project (schedules, run now): a
   * configured driver that can send. Absent from an older service: `engines` then.
   */
  sendable?: Engine[];
  capabilities: CapabilityRow[];
  /** The service's brokers are not this project's (Z4J_BROKER_PROJECTS): it can do nothing. */
  brokersNotInProject?: boolean;
}

export type CommandState = 'pending' | 'dispatched' | 'succeeded' | 'failed' | 'timed_out';

export interface Command {
  id: number;
  kind: string;
  engine: string;
  target: string;
  args: Record<string, unknown>;
  state: CommandState;
  outcome: Record<string, unknown> | null;
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
}

export type BulkAction = 'retry' | 'cancel';

export interface BulkPreview {
  action: BulkAction;
  count: number;
  overCap: boolean;
  maxTasks: number;
  engines: Array<{ engine: Engine; count: number; supported: boolean }>;
  sample: Task[];
}

export interface BulkJob {
  id: number;
  action: BulkAction;
  filters: Record<string, unknown>;
  state: 'running' | 'succeeded' | 'cancelled' | 'failed';
  total: number;
  message: string | null;
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
  progress: { done: number; succeeded: number; failed: number; pending: number; skipped: number };
}

export interface PurgePreview {
  engine: Engine;
  queue: string;
  /** Messages that would go (with a filter: the matching ones). */
  depth: number | null;
  filter?: { name: string };
  /** With a filter: false when the scan stopped at its bound, so `depth` is "at least". */
  complete?: boolean;
  scanned?: number;
  /** With a filter: scanned messages whose task name the service cannot read (another serializer); they are kept. */
  unreadable?: number;
  token: string;
  expiresAt: string;
}

export interface AuditEntry {
  id: string;
  seq: number;
  at: string;
  actorKind: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  target: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
  /** The address the request reached the service from: Grafana's, as every call goes through its proxy. */
  ip: string | null;
  /** X-Forwarded-For as the service received it: its first address is the user's browser. */
  forwardedFor: string | null;
  requestId: string | null;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

export interface AuditVerification {
  ok: boolean;
  checked: number;
  lastSeq: number;
  prunedThroughSeq: number;
  firstBroken: { seq: number | null; id: string | null; reason: string } | null;
}

export interface Member {
  userId: string;
  login: string;
  email: string | null;
  name: string | null;
  role: ProjectRole;
  createdBy: string | null;
  createdAt: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: ProjectRole;
  invitedBy: string | null;
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  revokedAt: string | null;
}

/** GET /api/invitations: newest first, paged by key as TaskPage is. */
export interface InvitationPage {
  invitations: Invitation[];
  nextCursor: string | null;
}

export interface AgentCredential {
  id: string;
  name: string;
  createdBy: string | null;
  createdAt: string;
  revokedAt: string | null;
  liveSecrets: number;
  overlapEndsAt: string | null;
}

/** GET /api/agents: newest first, paged by key as TaskPage is. */
export interface AgentPage {
  agents: AgentCredential[];
  nextCursor: string | null;
}

/** POST /api/agents and /api/agents/:id/rotate: the secret is shown once. */
export interface MintedAgent {
  agent: AgentCredential;
  agentId: string;
  secret: string;
  project: string;
}

export interface ApiToken {
  id: string;
  name: string;
  /** As minted. */
  role: ProjectRole;
  /** The role it acts with now: `role` capped by its maker's current role (null: none). Absent from older services. */
  effectiveRole?: ProjectRole | null;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** A database role Grafana's "z4j alerting" data source logs in as, which may read this project (GET /api/alerting/readers). */
export interface AlertingReader {
  role: string;
  /** Granted every project (later ones too), not this one alone. */
  everyProject: boolean;
  grantedAt: string;
  /** Who ran `z4j alerting grant`: cli:<their user on the service's machine>. */
  grantedBy: string;
  /** The role is gone from the database server: the grant reads nothing. */
  roleMissing: boolean;
}

export interface AlertingReaders {
  /** Where the service keeps its data: 'pglite' (embedded) cannot be reached by Grafana, so nothing is granted there. */
  storage: 'postgres' | 'pglite';
  readers: AlertingReader[];
}

/** GET /api/tokens: newest first, paged by key as TaskPage is. */
export interface ApiTokenPage {
  tokens: ApiToken[];
  nextCursor: string | null;
}

/** A task z4j sends itself on a cron, in a time zone (the service's scheduler), as a retry from z4j is sent. */
export interface Schedule {
  id: string;
  /** Unique in the project. */
  name: string;
  engine: Engine;
  taskName: string;
  /** The display copy, redacted: the exact call is kept sealed by the service and never returned. */
  args: unknown[];
  /** The display copy, redacted, as `args`. */
  kwargs: Record<string, unknown>;
  /** null: the engine's default queue. */
  queue: string | null;
  /** Five fields, or @hourly / @daily / @weekly / @monthly / @yearly (no seconds field). */
  cron: string;
  /** IANA name the cron is read in. */
  timezone: string;
  enabled: boolean;
  /** null while disabled. */
  nextRunAt: string | null;
  lastRun: ScheduleRun | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

/**
 * sending: recorded, not yet handed to the broker (left so when the service died there: at most once);
 * sent: the broker holds the task; dispatched: an agent took the command, its outcome pending;
 * failed: `error` says why.
 */
export type ScheduleRunState = 'sending' | 'sent' | 'dispatched' | 'failed';

/** One time a schedule fired: on its cron, or by "Run now". */
export interface ScheduleRun {
  id: string;
  scheduleId: string;
  trigger: 'cron' | 'manual';
  /** The cron time it was for; null for a manual run. */
  dueAt: string | null;
  firedAt: string;
  /** Who pressed "Run now"; null for a cron run. */
  requestedBy: string | null;
  state: ScheduleRunState;
  /** The task it sent (its detail page is /tasks/:engine/:taskId). */
  taskId: string | null;
  /** When it was sent through an agent's command channel. */
  commandId: string | null;
  /** Cron times skipped because the service was down: it fires once for them all. */
  missed: number;
  error: string | null;
}

/** GET /api/schedules: newest first, paged by key as TaskPage is. */
export interface SchedulePage {
  schedules: Schedule[];
  nextCursor: string | null;
}

/** GET /api/schedules/:id/runs: newest first, paged by key. */
export interface ScheduleRunPage {
  runs: ScheduleRun[];
  nextCursor: string | null;
}

/** POST /api/schedules. Left out: args [], kwargs {}, queue null, timezone 'UTC', enabled true. */
export interface NewSchedule {
  name: string;
  engine: Engine;
  taskName: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  queue?: string | null;
  cron: string;
  timezone?: string;
  enabled?: boolean;
}

/** PATCH /api/schedules/:id: only what changes. args or kwargs sent replace the sealed ones whole. */
export type ScheduleChanges = Partial<Omit<NewSchedule, 'engine'>>;

/** How Grafana roles and teams map to project roles (explicit memberships override it). */
export interface RoleMapping {
  grafanaOrgId: number | null;
  serverAdmin: ProjectRole | null;
  orgRoles: {
    Admin: ProjectRole | null;
    Editor: ProjectRole | null;
    Viewer: ProjectRole | null;
    None: ProjectRole | null;
  };
  teams: Array<{ teamId: number; role: ProjectRole }>;
}

/** GET /api/trends */
export const TREND_METRICS = ['count', 'runtime', 'wait'] as const;
export type TrendMetric = (typeof TREND_METRICS)[number];
export const TREND_STATS = ['avg', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
export type TrendStat = (typeof TREND_STATS)[number];
export const TREND_GROUPS = ['state', 'engine', 'name', 'queue', 'worker'] as const;
export type TrendGroup = (typeof TREND_GROUPS)[number];

/** What a trend asks for besides its range: the measure, one series per group, the explorer's filters. */
export interface TrendSelection {
  metric?: TrendMetric;
  /** For runtime and wait (default p95). */
  stat?: TrendStat;
  groupBy?: TrendGroup;
  /** Most series (default 10): the groups with the most tasks. */
  limit?: number;
  /** The project's slug; none: the service's default project. */
  project?: string;
  /** Comma-separated engines / states, as the explorer takes them. */
  engine?: string;
  state?: string;
  name?: string;
  queue?: string;
  worker?: string;
}

export interface TrendsParams extends TrendSelection {
  from: number;
  to: number;
  intervalMs: number;
  maxPoints: number;
  metric: TrendMetric;
}

export interface Trends {
  /** The bucket the service used (it widens the one asked for to fit maxPoints). */
  intervalMs: number;
  metric: TrendMetric;
  stat: TrendStat | null;
  /** Every bucket of the range: a count is 0 where no task was seen, a duration null. */
  series: Array<{ labels: Partial<Record<TrendGroup, string>>; points: Array<[number, number | null]> }>;
  /** More groups had tasks than the series show. */
  truncated: boolean;
}
