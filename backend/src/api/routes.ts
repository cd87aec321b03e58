// Every route of the service in one table: method, path, the project role it needs, and its
// handler. Express glue lives in app.ts; the OpenAPI document must describe each route here.
import type { NextFunction, Request, Response } from 'express';
import { TASK_ACTIONS, WORKER_ACTIONS } from '../engines/capabilities.js';
import type { ApiContext } from './context.js';
import { bulkCancel, bulkGet, bulkOutcomes, bulkPreview, bulkStart, capabilities, getCommand, purgePreview, purgeQueue, requeueDeadLetters, taskAction, workerAction, workerShutdown } from './handlers/actions.js';
import { getTask } from './handlers/getTask.js';
import { ingestBatch } from './handlers/ingest.js';
import { taskGraph, taskNames } from './handlers/taskGraph.js';
import { trends } from './handlers/trends.js';
import { health, liveness, metrics, readinessDetail, ready } from './handlers/health.js';
import { listQueues } from './handlers/listQueues.js';
import { listTasks } from './handlers/listTasks.js';
import { listWorkers } from './handlers/listWorkers.js';
import { listAlertingReadersHandler } from './handlers/alerting.js';
import { createAgent, listAgentsHandler, revokeAgentHandler, rotateAgentHandler } from './handlers/agents.js';
import { createApiToken, listApiTokensHandler, revokeApiTokenHandler } from './handlers/apiTokens.js';
import { listAudit, rotateAuditKey, verifyAudit } from './handlers/audit.js';
import { acceptInvitationHandler, createInvitationHandler, listInvitationsHandler, revokeInvitationHandler } from './handlers/invitations.js';
import { getMe } from './handlers/me.js';
import { deleteMember, listMembers, putMember } from './handlers/members.js';
import { createProject, deleteProject, getProject, listProjects, transferProject, updateProject } from './handlers/projects.js';
import { getRoleRules, putRoleRules } from './handlers/roleRules.js';
import { listRunsHandler, previewScheduleHandler, runScheduleHandler } from './handlers/scheduleRuns.js';
import { createScheduleHandler, deleteScheduleHandler, disableScheduleHandler, enableScheduleHandler, getScheduleHandler, listSchedulesHandler, updateScheduleHandler } from './handlers/schedules.js';

export type Handler = (req: Request, res: Response, next: NextFunction) => Promise<void>;

/**
 * Project roles, lowest first. `public` routes need no caller (probes, metrics scrapes);
 * `agent` routes are called by agents, authenticated by their batch signature instead of
 * the Grafana proxy secret; `user` routes need an authenticated caller but no role in a
 * project (the handler decides). Every other route needs that role in the request's project
 * (`:project`, else `?project=`, else Z4J_PROJECT); see auth/caller.ts.
 */
export type Role = 'public' | 'agent' | 'user' | 'viewer' | 'operator' | 'admin' | 'owner';

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  role: Role;
  handler: (ctx: ApiContext) => Handler;
  /**
   * Audit action of a write (`member.add`), or one made from the path's parameters (`task.retry`);
   * refused attempts are audited under it. Default: `<METHOD> <path>`.
   */
  audit?: string | ((params: Record<string, string>) => string);
  /**
   * A POST that only reads (a body too rich for a query string) and creates no state: its
   * failures are not audited as failed writes (auditFailedWrite), as a GET's are not, so a
   * caller cannot fill the audit chain with refused reads. A route that mints or stores
   * anything (purge-preview's token) is a write, however it is named.
   */
  readOnly?: true;
  /**
   * The audit target of a refused or failed call, from the path's parameters: the one its
   * handler writes when it succeeds (`huey/<task id>`, `schedule:<id>`), so that filtering the
   * log by a target shows the attempts too. Default: the URL (routes that create their target).
   */
  target?: (params: Record<string, string>) => string;
}

/** `<kind>.<action>` for an action the route knows (as a command is audited), else `<kind>.action`. */
const actionOf = (kind: string, known: readonly string[]) => (p: Record<string, string>) =>
  known.includes(p.action ?? '') ? `${kind}.${p.action}` : `${kind}.action`;

/** `<engine>/<name>`: tasks, workers and queues, as commands are audited (actions/commands.ts auditTarget). */
const onEngine = (name: string) => (p: Record<string, string>) => `${p.engine}/${p[name]}`;
/** `<kind>:<id>`: schedules, tokens, agents, invitations, members, projects. */
const named = (kind: string, name = 'id') => (p: Record<string, string>) => `${kind}:${p[name]}`;

export const ROUTES: readonly Route[] = [
  { method: 'get', path: '/healthz', role: 'public', handler: liveness },
  { method: 'get', path: '/readyz', role: 'public', handler: ready },
  { method: 'get', path: '/metrics', role: 'public', handler: metrics },
  { method: 'get', path: '/api/healthz', role: 'viewer', handler: health },
  { method: 'get', path: '/api/readyz', role: 'user', handler: readinessDetail }, // Grafana server admins: sources serve every project
  { method: 'post', path: '/api/ingest/v1/batches', role: 'agent', handler: ingestBatch },
  { method: 'get', path: '/api/tasks', role: 'viewer', handler: listTasks },
  { method: 'get', path: '/api/tasks/:engine/:taskId', role: 'viewer', handler: getTask },
  { method: 'get', path: '/api/tasks/:engine/:taskId/graph', role: 'viewer', handler: taskGraph },
  { method: 'get', path: '/api/task-names', role: 'viewer', handler: taskNames },
  { method: 'get', path: '/api/workers', role: 'viewer', handler: listWorkers },
  { method: 'get', path: '/api/queues', role: 'viewer', handler: listQueues },
  { method: 'get', path: '/api/trends', role: 'viewer', handler: trends },

  // Actions (engine drivers, commands, bulk).
  { method: 'get', path: '/api/capabilities', role: 'viewer', handler: capabilities },
  { method: 'post', path: '/api/tasks/:engine/:taskId/actions/:action', role: 'operator', handler: taskAction, audit: actionOf('task', TASK_ACTIONS), target: onEngine('taskId') },
  { method: 'post', path: '/api/workers/:engine/:hostname/actions/:action', role: 'operator', handler: workerAction, audit: actionOf('worker', WORKER_ACTIONS), target: onEngine('hostname') },
  { method: 'post', path: '/api/workers/:engine/:hostname/shutdown', role: 'admin', handler: workerShutdown, audit: 'worker.shutdown', target: onEngine('hostname') },
  // Not readOnly: it mints the purge's confirmation token, and is audited whatever the outcome.
  { method: 'post', path: '/api/queues/:engine/:queue/purge-preview', role: 'admin', handler: purgePreview, audit: 'queue.purge_preview', target: onEngine('queue') },
  { method: 'post', path: '/api/queues/:engine/:queue/purge', role: 'admin', handler: purgeQueue, audit: 'queue.purge', target: onEngine('queue') },
  { method: 'post', path: '/api/queues/:engine/:queue/requeue-dead-letters', role: 'operator', handler: requeueDeadLetters, audit: 'queue.requeue_dead_letters', target: onEngine('queue') },
  { method: 'post', path: '/api/bulk/preview', role: 'operator', handler: bulkPreview, audit: 'bulk.preview', readOnly: true }, // counts and samples tasks, stores nothing
  { method: 'post', path: '/api/bulk', role: 'operator', handler: bulkStart, audit: 'bulk.start' },
  { method: 'get', path: '/api/bulk/:id', role: 'viewer', handler: bulkGet },
  { method: 'get', path: '/api/bulk/:id/outcomes', role: 'viewer', handler: bulkOutcomes },
  { method: 'post', path: '/api/bulk/:id/cancel', role: 'operator', handler: bulkCancel, audit: 'bulk.cancel', target: (p) => `bulk/${p.id}` },
  { method: 'get', path: '/api/commands/:id', role: 'viewer', handler: getCommand },

  // Schedules (docs/schedules.md): Viewers read, Operators enable, disable and run now, Admins create, change and delete.
  { method: 'get', path: '/api/schedules', role: 'viewer', handler: listSchedulesHandler },
  { method: 'post', path: '/api/schedules', role: 'admin', handler: createScheduleHandler, audit: 'schedule.create' },
  { method: 'post', path: '/api/schedules/preview', role: 'viewer', handler: previewScheduleHandler, readOnly: true }, // computes times, stores nothing
  { method: 'get', path: '/api/schedules/:id', role: 'viewer', handler: getScheduleHandler },
  { method: 'patch', path: '/api/schedules/:id', role: 'admin', handler: updateScheduleHandler, audit: 'schedule.update', target: named('schedule') },
  { method: 'delete', path: '/api/schedules/:id', role: 'admin', handler: deleteScheduleHandler, audit: 'schedule.delete', target: named('schedule') },
  { method: 'post', path: '/api/schedules/:id/enable', role: 'operator', handler: enableScheduleHandler, audit: 'schedule.enable', target: named('schedule') },
  { method: 'post', path: '/api/schedules/:id/disable', role: 'operator', handler: disableScheduleHandler, audit: 'schedule.disable', target: named('schedule') },
  { method: 'post', path: '/api/schedules/:id/run', role: 'operator', handler: runScheduleHandler, audit: 'schedule.run', target: named('schedule') },
  { method: 'get', path: '/api/schedules/:id/runs', role: 'viewer', handler: listRunsHandler },

  // Identity and trust. Project-scoped routes take `?project=` (default Z4J_PROJECT), except
  // /api/projects/:project.
  { method: 'get', path: '/api/me', role: 'user', handler: getMe },
  { method: 'get', path: '/api/projects', role: 'user', handler: listProjects },
  { method: 'post', path: '/api/projects', role: 'user', handler: createProject, audit: 'project.create' },
  { method: 'get', path: '/api/projects/:project', role: 'viewer', handler: getProject },
  { method: 'patch', path: '/api/projects/:project', role: 'admin', handler: updateProject, audit: 'project.update', target: named('project', 'project') },
  { method: 'delete', path: '/api/projects/:project', role: 'owner', handler: deleteProject, audit: 'project.delete', target: named('project', 'project') },
  { method: 'post', path: '/api/projects/:project/transfer', role: 'owner', handler: transferProject, audit: 'project.transfer', target: named('project', 'project') },
  { method: 'get', path: '/api/members', role: 'admin', handler: listMembers },
  { method: 'put', path: '/api/members/:userId', role: 'admin', handler: putMember, audit: 'member.set', target: named('user', 'userId') },
  { method: 'delete', path: '/api/members/:userId', role: 'admin', handler: deleteMember, audit: 'member.remove', target: named('user', 'userId') },
  { method: 'get', path: '/api/role-rules', role: 'admin', handler: getRoleRules },
  { method: 'put', path: '/api/role-rules', role: 'admin', handler: putRoleRules, audit: 'role_rules.update' },
  { method: 'get', path: '/api/invitations', role: 'admin', handler: listInvitationsHandler },
  { method: 'post', path: '/api/invitations', role: 'admin', handler: createInvitationHandler, audit: 'invitation.create' },
  { method: 'delete', path: '/api/invitations/:id', role: 'admin', handler: revokeInvitationHandler, audit: 'invitation.revoke', target: named('invitation') },
  { method: 'post', path: '/api/invitations/accept', role: 'user', handler: acceptInvitationHandler, audit: 'invitation.accept' },
  { method: 'get', path: '/api/tokens', role: 'admin', handler: listApiTokensHandler },
  { method: 'post', path: '/api/tokens', role: 'admin', handler: createApiToken, audit: 'token.create' },
  { method: 'delete', path: '/api/tokens/:id', role: 'admin', handler: revokeApiTokenHandler, audit: 'token.revoke', target: named('token') },
  { method: 'get', path: '/api/agents', role: 'admin', handler: listAgentsHandler },
  { method: 'post', path: '/api/agents', role: 'admin', handler: createAgent, audit: 'agent.create' },
  { method: 'post', path: '/api/agents/:agentId/rotate', role: 'admin', handler: rotateAgentHandler, audit: 'agent.rotate', target: named('agent', 'agentId') },
  { method: 'delete', path: '/api/agents/:agentId', role: 'admin', handler: revokeAgentHandler, audit: 'agent.revoke', target: named('agent', 'agentId') },
  // Granted from the command line (`z4j alerting grant`): listed here for the project's Admins.
  { method: 'get', path: '/api/alerting/readers', role: 'admin', handler: listAlertingReadersHandler },
  { method: 'get', path: '/api/audit', role: 'admin', handler: listAudit },
  { method: 'get', path: '/api/audit/verify', role: 'admin', handler: verifyAudit },
  // Grafana server admins (the handler): one key ring MACs every project's chain.
  { method: 'post', path: '/api/audit/rotate-key', role: 'user', handler: rotateAuditKey, audit: 'audit.key.rotate' },
];
