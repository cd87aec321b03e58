// Typed calls to the z4j service, one function per endpoint the pages use. Every call goes
// through the app's proxy route (client.ts); the project is the service's default unless the
// user picked another one (`project` in the URL).
import type {
  AgentCredential,
  AgentPage,
  AlertingReaders,
  ApiToken,
  ApiTokenPage,
  AuditPage,
  AuditVerification,
  BulkAction,
  BulkJob,
  BulkPreview,
  Capabilities,
  Command,
  Engine,
  Invitation,
  InvitationPage,
  Me,
  Member,
  MintedAgent,
  NewSchedule,
  ProjectRole,
  PurgePreview,
  Queue,
  RoleMapping,
  Schedule,
  ScheduleChanges,
  SchedulePage,
  ScheduleRun,
  ScheduleRunPage,
  TaskDetail,
  TaskGraph,
  TaskPage,
  Trends,
  TrendsParams,
  Worker,
} from './types';
import { request, SERVICE_API_URL } from './client';

/** Query parameters: empty values are left out so URLs stay short and shareable. */
export type Params = Record<string, string | number | undefined | null>;

/** A page of a list the service pages by key: its size, and the nextCursor of the page before (none: the first). */
export interface PageParams {
  limit?: number;
  cursor?: string | null;
}

function clean(params: Params = {}): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') {
      out[k] = v;
    }
  }
  return out;
}

const enc = encodeURIComponent;

function get<T>(path: string, params?: Params): Promise<T> {
  return request<T>({ url: `${SERVICE_API_URL}${path}`, method: 'GET', params: clean(params), showErrorAlert: false });
}

/**
 * A write. Actions carry an Idempotency-Key made once per user intent, so a double click or a
 * network retry runs the action once.
 */
function send<T>(
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  data?: unknown,
  idempotencyKey?: string
): Promise<T> {
  return request<T>({
    url: `${SERVICE_API_URL}${path}`,
    method,
    data,
    headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : undefined,
    showErrorAlert: false,
    showSuccessAlert: false,
  });
}

export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  return c?.randomUUID ? c.randomUUID() : `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

// ---- reading ------------------------------------------------------------------------------

export const getMe = (project?: string) => get<Me>('/me', { project });
export const listProjects = () =>
  get<{ projects: Array<{ slug: string; name: string; role: ProjectRole }> }>('/projects');
export const getCapabilities = (project?: string) => get<Capabilities>('/capabilities', { project });
export const listTasks = (params: Params) => get<TaskPage>('/tasks', params);
export const getTask = (engine: string, taskId: string, project?: string) =>
  get<TaskDetail>(`/tasks/${enc(engine)}/${enc(taskId)}`, { project });
export const getTaskGraph = (engine: string, taskId: string, project?: string) =>
  get<TaskGraph>(`/tasks/${enc(engine)}/${enc(taskId)}/graph`, { project });
export const listTaskNames = (prefix: string, project?: string) =>
  get<{ names: string[] }>('/task-names', { prefix, limit: 20, project });
/** Online workers and those seen in the last week; `truncated` past the service's bound (2,000). */
export const listWorkers = (project?: string) =>
  get<{ workers: Worker[]; truncated?: boolean }>('/workers', { project });
export const listQueues = (project?: string) => get<{ queues: Queue[] }>('/queues', { project });
export const getTrends = (params: TrendsParams) => get<Trends>('/trends', { ...params });
export const getCommand = (id: number, project?: string) => get<{ command: Command }>(`/commands/${id}`, { project });

// ---- actions --------------------------------------------------------------------------------

const withProject = (path: string, project?: string) => (project ? `${path}?project=${enc(project)}` : path);

export const runTaskAction = (engine: Engine, taskId: string, action: string, key: string, project?: string) =>
  send<{ command: Command }>(
    'POST',
    withProject(`/tasks/${enc(engine)}/${enc(taskId)}/actions/${enc(action)}`, project),
    {},
    key
  );

export const runWorkerAction = (
  engine: Engine,
  hostname: string,
  action: string,
  args: Record<string, unknown>,
  key: string,
  project?: string
) =>
  send<{ command: Command }>(
    'POST',
    withProject(
      action === 'shutdown'
        ? `/workers/${enc(engine)}/${enc(hostname)}/shutdown`
        : `/workers/${enc(engine)}/${enc(hostname)}/actions/${enc(action)}`,
      project
    ),
    args,
    key
  );

/** `filter` limits the purge to one task's messages (engines with `queue.purge_filtered`). */
export const previewPurge = (engine: Engine, queue: string, project?: string, filter?: { name: string }) =>
  send<PurgePreview>(
    'POST',
    withProject(`/queues/${enc(engine)}/${enc(queue)}/purge-preview`, project),
    filter ? { filter } : {}
  );
/** The purge the token was issued for: the same filter, or none. */
export const purgeQueue = (engine: Engine, queue: string, token: string, project?: string, filter?: { name: string }) =>
  send<{ command: Command }>(
    'POST',
    withProject(`/queues/${enc(engine)}/${enc(queue)}/purge`, project),
    filter ? { token, filter } : { token }
  );
export const requeueDeadLetters = (engine: Engine, queue: string, key: string, project?: string) =>
  send<{ command: Command }>(
    'POST',
    withProject(`/queues/${enc(engine)}/${enc(queue)}/requeue-dead-letters`, project),
    {},
    key
  );

export const previewBulk = (action: BulkAction, filters: Record<string, string>, project?: string) =>
  send<BulkPreview>('POST', withProject('/bulk/preview', project), { action, filters });
export const startBulk = (action: BulkAction, filters: Record<string, string>, key: string, project?: string) =>
  send<{ job: BulkJob }>('POST', withProject('/bulk', project), { action, filters }, key);
export const getBulk = (id: number, project?: string) => get<{ job: BulkJob }>(`/bulk/${id}`, { project });
export const cancelBulk = (id: number, project?: string) =>
  send<{ job: BulkJob }>('POST', withProject(`/bulk/${id}/cancel`, project));

// ---- audit ------------------------------------------------------------------------------------

export const listAudit = (params: Params) => get<AuditPage>('/audit', params);
export const verifyAudit = (project?: string) => get<AuditVerification>('/audit/verify', { project });

// ---- project settings -----------------------------------------------------------------------

export const listMembers = (project?: string) => get<{ members: Member[] }>('/members', { project });
export const putMember = (
  userId: string,
  member: { login: string; role: ProjectRole; email?: string | null; name?: string | null },
  project?: string
) => send<{ member: Member }>('PUT', withProject(`/members/${enc(userId)}`, project), member);
export const removeMember = (userId: string, project?: string) =>
  send<unknown>('DELETE', withProject(`/members/${enc(userId)}`, project));

export const getRoleMapping = (project?: string) => get<{ roleMapping: RoleMapping }>('/role-rules', { project });
export const putRoleMapping = (mapping: RoleMapping, project?: string) =>
  send<{ roleMapping: RoleMapping }>('PUT', withProject('/role-rules', project), mapping);

export const listInvitations = (project?: string, page: PageParams = {}) =>
  get<InvitationPage>('/invitations', { project, ...page });
export const createInvitation = (email: string, role: ProjectRole, project?: string) =>
  send<{ invitation: Invitation }>('POST', withProject('/invitations', project), { email, role });
export const revokeInvitation = (id: string, project?: string) =>
  send<{ invitation: Invitation }>('DELETE', withProject(`/invitations/${enc(id)}`, project));
export const acceptInvitation = (token: string) =>
  send<{ project: { slug: string }; role: ProjectRole }>('POST', '/invitations/accept', { token });

export const listAlertingReaders = (project?: string) => get<AlertingReaders>('/alerting/readers', { project });
export const listAgents = (project?: string, page: PageParams = {}) => get<AgentPage>('/agents', { project, ...page });
export const createAgent = (name: string, project?: string) =>
  send<MintedAgent>('POST', withProject('/agents', project), { name });
export const rotateAgent = (id: string, project?: string) =>
  send<MintedAgent>('POST', withProject(`/agents/${enc(id)}/rotate`, project), {});
export const revokeAgent = (id: string, project?: string) =>
  send<{ agent: AgentCredential }>('DELETE', withProject(`/agents/${enc(id)}`, project));

export const listTokens = (project?: string, page: PageParams = {}) =>
  get<ApiTokenPage>('/tokens', { project, ...page });
export const createToken = (name: string, role: ProjectRole, expiresInDays: number, project?: string) =>
  send<{ token: ApiToken; secret: string }>('POST', withProject('/tokens', project), { name, role, expiresInDays });
export const revokeToken = (id: string, project?: string) =>
  send<{ token: ApiToken }>('DELETE', withProject(`/tokens/${enc(id)}`, project));

// ---- schedules ------------------------------------------------------------------------------

export const listSchedules = (project?: string, page: PageParams = {}) =>
  get<SchedulePage>('/schedules', { project, ...page });
export const getSchedule = (id: string, project?: string) =>
  get<{ schedule: Schedule }>(`/schedules/${enc(id)}`, { project });
export const createSchedule = (schedule: NewSchedule, project?: string) =>
  send<{ schedule: Schedule }>('POST', withProject('/schedules', project), schedule);
export const updateSchedule = (id: string, changes: ScheduleChanges, project?: string) =>
  send<{ schedule: Schedule }>('PATCH', withProject(`/schedules/${enc(id)}`, project), changes);
export const deleteSchedule = (id: string, project?: string) =>
  send<unknown>('DELETE', withProject(`/schedules/${enc(id)}`, project));
export const setScheduleEnabled = (id: string, enabled: boolean, project?: string) =>
  send<{ schedule: Schedule }>(
    'POST',
    withProject(`/schedules/${enc(id)}/${enabled ? 'enable' : 'disable'}`, project),
    {}
  );
/** Sends the schedule's task once, now; its cron times are unchanged. */
export const runSchedule = (id: string, key: string, project?: string) =>
  send<{ run: ScheduleRun }>('POST', withProject(`/schedules/${enc(id)}/run`, project), {}, key);
export const listScheduleRuns = (id: string, project?: string, page: PageParams = {}) =>
  get<ScheduleRunPage>(`/schedules/${enc(id)}/runs`, { project, ...page });
/** The next `count` times a cron fires in a time zone, or why the service cannot read it. */
export const previewSchedule = (cron: string, timezone: string, count = 5, project?: string) =>
  send<{ next: string[] }>('POST', withProject('/schedules/preview', project), { cron, timezone, count });
