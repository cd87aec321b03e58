import pluginJson from './plugin.json';

export const PLUGIN_ID = pluginJson.id;
export const PLUGIN_BASE_URL = `/a/${PLUGIN_ID}`;

/** Where the app's config page lives (Administration → Plugins → z4j). */
export const PLUGIN_CONFIG_URL = `/plugins/${PLUGIN_ID}`;

/** Default for jsonData.serviceUrl: the companion service on the same host. */
export const DEFAULT_SERVICE_URL = 'http://localhost:8080';

/**
 * Page paths under PLUGIN_BASE_URL. They must match the `page` includes of plugin.json
 * (App.test.tsx checks it); the route table is in components/App/App.tsx.
 */
export enum ROUTES {
  Tasks = 'tasks',
  Workers = 'workers',
  Queues = 'queues',
  Schedules = 'schedules',
  Audit = 'audit',
  Settings = 'settings',
  Invitation = 'invitation',
}

/** States a task does not leave: a page showing only these has nothing more to follow. */
export const SETTLED_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'revoked', 'rejected', 'expired']);

/** What names one task: its engine and its id (a Celery task and an RQ task may share an id). */
export interface TaskRef {
  engine: string;
  taskId: string;
}

/** Whether `a` and `b` are the same task: the same id on the same engine. */
export const sameTask = (a: TaskRef, b: TaskRef): boolean => a.engine === b.engine && a.taskId === b.taskId;

/** Link to a task's detail page (and its graph with `/graph`). */
export function taskUrl(engine: string, taskId: string, graph = false): string {
  return `${PLUGIN_BASE_URL}/${ROUTES.Tasks}/${encodeURIComponent(engine)}/${encodeURIComponent(taskId)}${graph ? '/graph' : ''}`;
}

/**
 * The audit log filtered to what was done to one task (actions audit `<engine>/<taskId>`), since
 * the task was first seen: the log's default week would hide what was done to an older task, and
 * say nobody acted on it. An hour earlier, as the task's times are its workers' clocks.
 */
export function taskAuditUrl(engine: string, taskId: string, project?: string, firstSeenAt?: string | null): string {
  const params = new URLSearchParams({ target: `${engine}/${taskId}` });
  if (project) {
    params.set('project', project);
  }
  const since = firstSeenAt ? Date.parse(firstSeenAt) : NaN;
  if (!Number.isNaN(since)) {
    params.set('from', String(since - 3_600_000));
  }
  return `${PLUGIN_BASE_URL}/${ROUTES.Audit}?${params}`;
}

/** `url` with the project as `?project=`, so the page it opens shows the same project. */
export function inProject(url: string, project?: string): string {
  return project ? `${url}?project=${encodeURIComponent(project)}` : url;
}
