import { listWorkers } from '../api/service';
import { useAsync, useInterval } from '../hooks/useAsync';

/** The project's workers, read again every 10 s (heartbeats and load change). */
export function useWorkers(project: string | undefined) {
  const workers = useAsync(() => listWorkers(project), [project]);
  useInterval(workers.reload, 10_000);
  return workers;
}
