// A small, stateful stand-in for the z4j service behind Grafana's proxy: the fixtures a
// journey needs (tasks, a workflow, workers, queues, the settings lists, schedules) and the answers the
// real service gives, including refusing an action to a role below Operator.
import { SERVICE_API_URL } from '../api/client';
import type {
  AgentCredential,
  AgentPage,
  AlertingReaders,
  ApiToken,
  ApiTokenPage,
  Capabilities,
  Command,
  Invitation,
  InvitationPage,
  ProjectRole,
  Task,
  TaskDetail,
  TaskGraph,
} from '../api/types';
import { pageOf, reply, setupBackend, type FakeReply } from './backend';
import { addScheduleRoutes } from './fakeSchedules';

const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, s)).toISOString();

export function task(over: Partial<Task> & Pick<Task, 'taskId'>): Task {
  return {
    id: String(Math.floor(Math.random() * 1e9)),
    engine: 'celery',
    name: 'billing.charge',
    queue: 'celery',
    state: 'succeeded',
    args: [1],
    kwargs: { card: '[REDACTED]' },
    result: null,
    exception: null,
    worker: 'celery@w1',
    retries: 0,
    rootId: null,
    parentId: null,
    groupId: null,
    eta: null,
    sentAt: at(0),
    receivedAt: at(1),
    startedAt: at(1),
    finishedAt: at(3),
    runtimeMs: 2000,
    waitMs: 1000,
    firstSeenAt: at(0),
    lastEventAt: at(3),
    ...over,
  };
}

export const apiToken = (over: Partial<ApiToken> & Pick<ApiToken, 'id' | 'name'>): ApiToken => ({
  role: 'operator',
  effectiveRole: over.role ?? 'operator',
  createdBy: 'alice',
  createdAt: at(0),
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  ...over,
});

export const agentCredential = (
  over: Partial<AgentCredential> & Pick<AgentCredential, 'id' | 'name'>
): AgentCredential => ({
  createdBy: 'alice',
  createdAt: at(0),
  revokedAt: null,
  liveSecrets: 1,
  overlapEndsAt: null,
  ...over,
});

export const invitation = (over: Partial<Invitation> & Pick<Invitation, 'id' | 'email'>): Invitation => ({
  role: 'operator',
  invitedBy: 'alice',
  createdAt: at(0),
  expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  acceptedAt: null,
  revokedAt: null,
  ...over,
});

/** The settings lists, newest first; a test can start from its own. */
export interface SettingsLists {
  invitations?: Invitation[];
  tokens?: ApiToken[];
  agents?: AgentCredential[];
  alerting?: AlertingReaders;
}

export const FAILED = task({
  taskId: 'f-1',
  state: 'failed',
  name: 'billing.charge',
  exception: "ValueError('card declined')",
  result: null,
});
export const CHAIN_ROOT = task({ taskId: 'c-1', name: 'etl.extract', runtimeMs: 100 });
export const CHAIN_2 = task({ taskId: 'c-2', name: 'etl.transform', rootId: 'c-1', parentId: 'c-1', runtimeMs: 5000 });
export const CHAIN_3 = task({ taskId: 'c-3', name: 'etl.load', rootId: 'c-1', parentId: 'c-2', runtimeMs: 300 });
/** A failure z4j has no sealed call for (no agent in its producer). */
export const FAILED_NO_PAYLOAD = task({
  taskId: 'f-nopayload',
  state: 'failed',
  name: 'legacy.job',
  exception: 'KeyError()',
});
/** A failure whose call the agent left out of its enqueued event, saying why (payloadOmitted). */
export const FAILED_OMITTED = task({
  taskId: 'f-omitted',
  state: 'failed',
  name: 'billing.close_day',
  exception: 'KeyError()',
});
export const OMITTED_REASON = 'its arguments hold a value of type datetime, which JSON cannot carry exactly';
export const ALL_TASKS = [FAILED, CHAIN_3, CHAIN_2, CHAIN_ROOT];

const capabilities: Capabilities = {
  engines: ['celery', 'rq'],
  sendable: ['celery', 'rq'],
  capabilities: [
    { capability: 'task.retry', label: 'Retry', engines: { celery: { via: 'broker' }, rq: { via: 'broker' } } },
    { capability: 'task.cancel', label: 'Cancel', engines: { celery: { via: 'broker' }, rq: { via: 'broker' } } },
    { capability: 'task.terminate', label: 'Terminate', engines: { celery: { via: 'broker' }, rq: null } },
    { capability: 'queue.purge', label: 'Purge', engines: { celery: { via: 'broker' }, rq: { via: 'broker' } } },
    {
      capability: 'queue.purge_filtered',
      label: 'Purge matching',
      engines: { celery: { via: 'broker' }, rq: { via: 'broker' } },
    },
    { capability: 'worker.shutdown', label: 'Shutdown', engines: { celery: { via: 'broker' }, rq: null } },
    { capability: 'worker.autoscale', label: 'Autoscale', engines: { celery: { via: 'broker' }, rq: null } },
    { capability: 'worker.pool_grow', label: 'Grow', engines: { celery: { via: 'broker' }, rq: null } },
  ],
};

const ROLE_ORDER: ProjectRole[] = ['viewer', 'operator', 'admin', 'owner'];
const forbidden = () =>
  reply({ error: { code: 'FORBIDDEN', message: 'this needs the operator role in project default' } }, 403);

/** What the service answers for one task: the task with its timeline (received, started, its state). */
export function detail(t: Task): TaskDetail {
  return {
    task: {
      ...t,
      traceback: t.exception
        ? 'Traceback (most recent call last):\n  File "billing.py", line 3\nValueError: card declined'
        : null,
      retryOf: null,
      retriedAs: [],
      hasPayload: t.taskId !== 'f-nopayload' && t.taskId !== 'f-omitted',
    },
    events: [
      ...(t.taskId === 'f-omitted'
        ? [{ id: 'e0', kind: 'enqueued', occurredAt: at(0), worker: null, fields: { payloadOmitted: OMITTED_REASON } }]
        : []),
      { id: 'e1', kind: 'received', occurredAt: at(1), worker: t.worker, fields: {} },
      { id: 'e2', kind: 'started', occurredAt: at(1), worker: t.worker, fields: {} },
      { id: 'e3', kind: t.state, occurredAt: at(3), worker: t.worker, fields: {} },
    ],
    children: [],
  };
}

/** Installs the fake service for one test; `role` is the caller's project role. */
export function fakeService(role: ProjectRole, tasks: Task[] = [...ALL_TASKS], lists: SettingsLists = {}) {
  const url = (p: string) => `${SERVICE_API_URL}${p}`;
  const commands: Command[] = [];
  const invitations = lists.invitations ?? [invitation({ id: 'inv-1', email: 'newcomer@example.com' })];
  // The second acts below its role: its maker's role is lower now.
  const tokens = lists.tokens ?? [
    apiToken({ id: 'tok-1', name: 'ci-bot' }),
    apiToken({ id: 'tok-2', name: 'deploy', role: 'admin', effectiveRole: 'viewer', createdBy: 'user:bob' }),
  ];
  const agents = lists.agents ?? [];
  const allows = (needed: ProjectRole) => ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(needed);
  const caps: Capabilities = {
    ...capabilities,
    engines: [...capabilities.engines],
    sendable: [...(capabilities.sendable ?? [])],
  };
  const routes: Record<
    string,
    (r: {
      url: string;
      params?: Record<string, unknown>;
      data?: unknown;
      headers?: Record<string, string>;
    }) => FakeReply
  > = {
    [`GET ${url('/me')}`]: () =>
      reply({
        user: { login: `${role}-user`, name: null, email: null },
        project: { slug: 'default', name: 'Default' },
        role,
        grafanaRole: 'Viewer',
        isGrafanaAdmin: false,
      }),
    [`GET ${url('/projects')}`]: () =>
      reply({
        projects: [
          { slug: 'default', name: 'Default', role },
          { slug: 'ops', name: 'Ops', role },
        ],
      }),
    [`GET ${url('/capabilities')}`]: () => reply(caps),
    [`GET ${url('/tasks')}`]: (r) => {
      const p = r.params ?? {};
      const states = typeof p.state === 'string' ? p.state.split(',') : null;
      const rows = tasks.filter(
        (t) =>
          (!states || states.includes(t.state)) && (!p.queue || t.queue === p.queue) && (!p.name || t.name === p.name)
      );
      // Keyset paging, as the service does: the cursor names the last row of the page before.
      const after = typeof p.cursor === 'string' ? rows.findIndex((t) => t.taskId === p.cursor) + 1 : 0;
      const page = rows.slice(after, after + (Number(p.limit) || 50));
      const more = after + page.length < rows.length;
      return reply({ tasks: page, nextCursor: more ? page.at(-1)!.taskId : null });
    },
    [`GET ${url('/task-names')}`]: () => reply({ names: [...new Set(tasks.map((t) => t.name!))].sort() }),
    [`GET ${url('/workers')}`]: () =>
      reply({
        workers: [
          {
            engine: 'celery',
            hostname: 'celery@w1',
            online: true,
            firstSeenAt: at(0),
            lastSeenAt: at(3),
            offlineAt: null,
            heartbeatS: 2,
            active: 3,
            processed: 1200,
            loadavg: [0.5, 0.4, 0.3],
            pid: 42,
            software: 'celery 5.5',
          },
        ],
      }),
    [`GET ${url('/queues')}`]: () =>
      reply({
        queues: [
          { engine: 'celery', name: 'celery', firstSeenAt: at(0), lastSeenAt: at(3), depth: 12, depthAt: at(3) },
        ],
      }),
    [`GET ${url('/audit')}`]: () =>
      allows('admin')
        ? reply({
            entries: [
              {
                id: '1',
                seq: 1,
                at: at(5),
                actorKind: 'user',
                actorId: '7',
                actorName: 'alice',
                action: 'task.retry',
                target: 'celery/f-1',
                outcome: 'ok',
                detail: null,
                ip: '10.0.0.1',
                forwardedFor: null,
                requestId: 'r1',
              },
            ],
            nextCursor: null,
          })
        : forbidden(),
    [`GET ${url('/audit/verify')}`]: () =>
      reply({ ok: true, checked: 1, lastSeq: 1, prunedThroughSeq: 0, firstBroken: null }),
    [`DELETE ${url('/members/7')}`]: () => reply(null, 204),
    [`GET ${url('/invitations')}`]: (r) => {
      const { page, nextCursor } = pageOf(invitations, r.params);
      return reply<InvitationPage>({ invitations: page, nextCursor });
    },
    [`GET ${url('/tokens')}`]: (r) => {
      const { page, nextCursor } = pageOf(tokens, r.params);
      return reply<ApiTokenPage>({ tokens: page, nextCursor });
    },
    [`POST ${url('/tokens')}`]: (r) => {
      const { name, role: granted } = r.data as { name: string; role: ProjectRole };
      const token = apiToken({ id: `tok-new-${tokens.length}`, name, role: granted, createdAt: at(59) });
      tokens.unshift(token);
      revocable('tokens', token, (t) => ({ token: t }));
      return reply({ token, secret: 'z4j_shown-once' }, 201);
    },
    [`GET ${url('/alerting/readers')}`]: () =>
      allows('admin')
        ? reply<AlertingReaders>(
            lists.alerting ?? {
              storage: 'postgres',
              readers: [
                { role: 'grafana_ops', everyProject: true, grantedAt: at(1), grantedBy: 'cli:ada', roleMissing: false },
                { role: 'grafana_old', everyProject: false, grantedAt: at(2), grantedBy: 'cli:bob', roleMissing: true },
              ],
            }
          )
        : forbidden(),
    [`GET ${url('/agents')}`]: (r) => {
      const { page, nextCursor } = pageOf(agents, r.params);
      return reply<AgentPage>({ agents: page, nextCursor });
    },
    // Grafana's own user search (not the z4j service).
    ['GET /api/org/users/lookup']: (r) =>
      reply(
        [
          { userId: 12, login: 'bob', name: 'Bob Builder', email: 'bob@example.com' },
          { userId: 13, login: 'carol', name: 'Carol', email: 'carol@example.com' },
        ].filter((u) =>
          JSON.stringify(u)
            .toLowerCase()
            .includes(String(r.params?.query ?? '').toLowerCase())
        )
      ),
    [`GET ${url('/members')}`]: () =>
      reply({
        members: [
          {
            userId: '7',
            login: 'alice',
            email: null,
            name: 'Alice',
            role: 'admin',
            createdBy: 'setup',
            createdAt: at(0),
          },
        ],
      }),
    [`POST ${url('/queues/celery/celery/purge-preview')}`]: (r) => {
      if (!allows('admin')) {
        return forbidden();
      }
      const filter = (r.data as { filter?: { name: string } }).filter;
      return reply({
        engine: 'celery',
        queue: 'celery',
        depth: filter ? 3 : 12,
        ...(filter ? { filter, complete: true, scanned: 5, unreadable: 0 } : {}),
        token: `token-for-${filter?.name ?? 'all'}`,
        expiresAt: at(300),
      });
    },
    [`POST ${url('/queues/celery/celery/purge')}`]: (r) => {
      const body = r.data as { token: string; filter?: { name: string } };
      if (body.token !== `token-for-${body.filter?.name ?? 'all'}`) {
        return reply({ error: { code: 'TOKEN_MISMATCH', message: 'this token was issued for another purge' } }, 403);
      }
      const command: Command = {
        id: commands.length + 1,
        kind: 'queue.purge',
        engine: 'celery',
        target: 'celery',
        args: { filter: body.filter ?? null },
        state: 'succeeded',
        // As the service answers a purge on Redis: how many messages, and how many tasks it marked revoked.
        outcome: body.filter ? { purged: 3, revoked: 3 } : { purged: 12, revoked: 12 },
        requestedBy: `${role}-user`,
        createdAt: at(5),
        updatedAt: at(5),
      };
      commands.push(command);
      return reply({ command }, 202);
    },
    [`POST ${url('/bulk/preview')}`]: (r) => {
      if (!allows('operator')) {
        return forbidden();
      }
      const { action } = r.data as { action: string };
      return reply({
        action,
        count: 1,
        overCap: false,
        maxTasks: 10000,
        engines: [{ engine: 'celery', count: 1, supported: true }],
        sample: [FAILED],
      });
    },
  };
  for (const action of ['autoscale', 'pool_grow']) {
    routes[`POST ${url(`/workers/celery/${encodeURIComponent('celery@w1')}/actions/${action}`)}`] = (r) => {
      if (!allows('operator')) {
        return forbidden();
      }
      const command: Command = {
        id: commands.length + 1,
        kind: `worker.${action}`,
        engine: 'celery',
        target: 'celery@w1',
        args: r.data as Record<string, unknown>,
        state: 'succeeded',
        outcome: null,
        requestedBy: `${role}-user`,
        createdAt: at(5),
        updatedAt: at(5),
      };
      commands.push(command);
      return reply({ command }, 202);
    };
  }
  /** DELETE of a row revokes it: the list reads it back revoked, where it was. */
  function revocable<T extends { id: string; revokedAt: string | null }>(
    path: string,
    row: T,
    answer: (r: T) => unknown
  ) {
    routes[`DELETE ${url(`/${path}/${row.id}`)}`] = () => {
      row.revokedAt = at(60);
      return reply(answer(row));
    };
  }
  invitations.forEach((i) => revocable('invitations', i, (x) => ({ invitation: x })));
  tokens.forEach((t) => revocable('tokens', t, (x) => ({ token: x })));
  agents.forEach((a) => revocable('agents', a, (x) => ({ agent: x })));
  // Tasks are looked up when asked for: a cancelled or terminated task reads back as revoked.
  const current = (t: Task) => tasks.find((x) => x.taskId === t.taskId) ?? t;
  for (const t of tasks) {
    routes[`GET ${url(`/tasks/${t.engine}/${t.taskId}`)}`] = () => reply(detail(current(t)));
    routes[`GET ${url(`/tasks/${t.engine}/${t.taskId}/graph`)}`] = () => reply(graphOf(t, tasks));
    for (const action of ['retry', 'cancel', 'terminate']) {
      routes[`POST ${url(`/tasks/${t.engine}/${t.taskId}/actions/${action}`)}`] = (r) => {
        if (!allows('operator')) {
          return forbidden();
        }
        const command: Command = {
          id: commands.length + 1,
          kind: `task.${action}`,
          engine: t.engine,
          target: t.taskId,
          args: {},
          state: 'succeeded',
          outcome: action === 'retry' ? { newTaskId: 'r-1' } : { message: `${action} confirmed by the broker` },
          requestedBy: `${role}-user`,
          createdAt: at(5),
          updatedAt: at(5),
        };
        if (action !== 'retry') {
          tasks.splice(tasks.indexOf(current(t)), 1, { ...current(t), state: 'revoked' });
        }
        commands.push({ ...command, args: { idempotencyKey: r.headers?.['Idempotency-Key'] } });
        return reply({ command }, 202);
      };
    }
  }
  const schedules = addScheduleRoutes(routes, url, role, allows, () => caps.sendable ?? caps.engines);
  const backend = setupBackend(routes as never);
  /** `routes` can be changed by a test: the fake reads them at each request. */
  /**
   * `caps` is this fake's capabilities reply: a test may change it before the page loads, e.g.
   * `caps.sendable = ['rq']` for a Celery driver without brokers (a driver, but nothing sent).
   */
  return { ...backend, commands, routes, invitations, tokens, agents, caps, ...schedules };
}

function graphOf(t: Task, tasks: Task[]): TaskGraph {
  const root = t.rootId ?? t.taskId;
  const nodes = tasks.filter((x) => x.taskId === root || x.rootId === root);
  return {
    rootId: root,
    truncated: false,
    nodes: nodes.map((n) => ({
      engine: n.engine,
      taskId: n.taskId,
      name: n.name,
      state: n.state,
      queue: n.queue,
      runtimeMs: n.runtimeMs,
      startedAt: n.startedAt,
      finishedAt: n.finishedAt,
      parentId: n.parentId,
      groupId: n.groupId,
    })),
    edges: nodes.filter((n) => n.parentId).map((n) => ({ from: n.parentId!, to: n.taskId, kind: 'chain' as const })),
  };
}
