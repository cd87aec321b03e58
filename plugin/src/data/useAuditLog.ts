// The project's audit log, paged by key (newest first), and the verification of its hash chain.
import type { TimeZone } from '@grafana/schema';
import { listAudit, verifyAudit } from '../api/service';
import { useAsync } from '../hooks/useAsync';
import { usePinnedQuery } from '../hooks/usePinnedQuery';
import { usePagedList } from '../hooks/usePagedList';
import { toTimeRange } from '../pages/Tasks/filters';

/** What the log is filtered by; `from` and `to` are Grafana time expressions or epoch ms. */
export interface AuditFilters {
  actor: string;
  action: string;
  target: string;
  outcome: string;
  from: string;
  to: string;
}

/**
 * The entries the filters match. Entries are only ever shown for the filters they were read for:
 * while new filters load, or after they failed to, the previous filters' entries (and their Load
 * older) are gone.
 */
export function useAuditLog(filters: AuditFilters, project: string | undefined, timeZone: TimeZone) {
  const query = usePinnedQuery(() => {
    const range = toTimeRange(filters, timeZone);
    return { ...filters, from: range.from.valueOf(), to: range.to.valueOf(), project };
  });
  return usePagedList(
    // Pinned when a first page is asked for: usePagedList drops the answer of a read since
    // superseded and, on this page, never keeps rows through a failed read of the same filters.
    (cursor) =>
      listAudit({ ...(cursor === null ? query.pin(query.fresh()) : query.next()), limit: 100, cursor }).then((p) => ({
        rows: p.entries,
        nextCursor: p.nextCursor,
      })),
    (e) => e.id,
    [filters.actor, filters.action, filters.target, filters.outcome, filters.from, filters.to, project]
  );
}

/** Whether the project's audit chain is intact (no entry edited, reordered or removed). */
export const useAuditVerification = (project: string | undefined) => useAsync(() => verifyAudit(project), [project]);
