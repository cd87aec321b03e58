import { listQueues } from '../api/service';
import { useAsync, useInterval } from '../hooks/useAsync';

/** The project's queues, read again every 10 s (their depths change). */
export function useQueues(project: string | undefined) {
  const queues = useAsync(() => listQueues(project), [project]);
  useInterval(queues.reload, 10_000);
  return queues;
}
