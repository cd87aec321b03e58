// The project's audit log, paged by key (newest first), and the verification of its hash chain.
import { useRef } from 'react';
import type { TimeZone } from '@grafana/schema';
import { listAudit, verifyAudit } from '../api/service';
import { useAsync } from '../hooks/useAsync';
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
  // The range the first page was read for, resolved: Load older goes on from it. Resolved again,
  // a range relative to now ("last 7 days") would have moved on since, and the oldest entries of
  // the list's range, past the new start, would never be listed.
  const readFor = useRef<{ from: number; to: number } | null>(null);
  return usePagedList(
    (cursor) => {
      if (cursor === null || readFor.current === null) {
        const now = toTimeRange(filters, timeZone);
        readFor.current = { from: now.from.valueOf(), to: now.to.valueOf() };
      }
      return listAudit({ ...filters, ...readFor.current, project, limit: 100, cursor }).then((p) => ({
        rows: p.entries,
        nextCursor: p.nextCursor,
      }));
    },
    (e) => e.id,
    [filters.actor, filters.action, filters.target, filters.outcome, filters.from, filters.to, project]
  );
}

/** Whether the project's audit chain is intact (no entry edited, reordered or removed). */
export const useAuditVerification = (project: string | undefined) => useAsync(() => verifyAudit(project), [project]);
