// A list paged by key goes on, at Load older, with the query its first page was read with, its
// time range resolved then. Resolved again, a range relative to now ("last hour") would have
// moved on since, and the oldest rows of the list's range, past the new start, would never be
// listed (the key cursor keeps the end from mattering).
import { useLayoutEffect, useMemo, useRef } from 'react';

export interface PinnedQuery<Q> {
  /** The query resolved now, for a first page (a filter change, Reload, Try again). */
  fresh: () => Q;
  /** Keeps `query` as the one the list on screen was first read with, and returns it. */
  pin: (query: Q) => Q;
  /** The query for the next page: the pinned one (a fresh one while nothing was read). */
  next: () => Q;
}

/** `resolve` turns the current filters into the service's query (times to epoch ms). */
export function usePinnedQuery<Q>(resolve: () => Q): PinnedQuery<Q> {
  const resolveRef = useRef(resolve);
  const pinned = useRef<{ query: Q } | null>(null);
  useLayoutEffect(() => {
    resolveRef.current = resolve;
  });
  return useMemo(
    () => ({
      fresh: () => resolveRef.current(),
      pin: (query) => {
        pinned.current = { query };
        return query;
      },
      next: () => (pinned.current ? pinned.current.query : resolveRef.current()),
    }),
    []
  );
}
