import { getTaskGraph } from '../api/service';
import { SETTLED_STATES } from '../constants';
import { useAsync, useInterval } from '../hooks/useAsync';

/**
 * The workflow a task belongs to. A workflow still running is followed (read again every 10 s),
 * as its task's page is: its nodes change state.
 */
export function useTaskGraph(engine: string, taskId: string, project: string | undefined) {
  const graph = useAsync(() => getTaskGraph(engine, taskId, project), [engine, taskId, project]);
  const running = graph.value?.nodes.some((n) => !SETTLED_STATES.has(n.state)) ?? false;
  useInterval(graph.reload, running ? 10_000 : null);
  return graph;
}
