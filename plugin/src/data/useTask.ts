import { getTask } from '../api/service';
import { SETTLED_STATES } from '../constants';
import { useAsync, useInterval } from '../hooks/useAsync';

/**
 * One task's detail. A task still on its way is followed (read again every 5 s): its state,
 * timeline and actions change as it runs.
 */
export function useTask(engine: string, taskId: string, project: string | undefined) {
  const detail = useAsync(() => getTask(engine, taskId, project), [engine, taskId, project]);
  const task = detail.value?.task;
  useInterval(detail.reload, task && !SETTLED_STATES.has(task.state) ? 5000 : null);
  return detail;
}
