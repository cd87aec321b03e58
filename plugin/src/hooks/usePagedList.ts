// A list the service pages by key (limit and cursor in, rows and nextCursor out), newest first:
// the first page when `deps` change, the next one appended on "Load older", and a reload after a
// write that re-reads as far as the user had read, so a row revoked on page three stays in view.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { toApiRequestError, type ApiRequestError } from '../api/client';
import type { AsyncState } from './useAsync';

/** Rows a page of the settings lists holds (the service's default). */
export const PAGE_SIZE = 50;

export interface Page<T> {
  rows: T[];
  nextCursor: string | null;
}

export interface PagedList<T> extends AsyncState<T[]> {
  /** The service has older rows than those shown. */
  hasMore: boolean;
  /** Appends the next page (a no-op while the list loads, or when there is none). */
  loadMore: () => Promise<void>;
  loadingMore: boolean;
  /** Why the last "Load older" failed; the rows already shown stay. */
  moreError?: ApiRequestError;
}

interface Loaded<T> {
  deps?: readonly unknown[];
  rows?: T[];
  nextCursor: string | null;
  error?: ApiRequestError;
  loading: boolean;
  loadingMore: boolean;
  moreError?: ApiRequestError;
}

const sameDeps = (a: readonly unknown[] | undefined, b: readonly unknown[]) =>
  a !== undefined && a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** `more` after `rows`, without a row already there (one created between two reads shifts the pages). */
function appended<T>(rows: T[], more: T[], rowKey: (row: T) => string): T[] {
  const seen = new Set(rows.map(rowKey));
  return [...rows, ...more.filter((r) => !seen.has(rowKey(r)))];
}

/**
 * `loadPage(cursor)` reads one page (cursor null: the first). As useAsync: an answer for deps
 * since changed is dropped, rows are only ever shown for the deps they were read for, and a
 * reload keeps the rows on screen until its answer comes.
 */
export function usePagedList<T>(
  loadPage: (cursor: string | null) => Promise<Page<T>>,
  rowKey: (row: T) => string,
  deps: readonly unknown[]
): PagedList<T> {
  const [state, setState] = useState<Loaded<T>>({ nextCursor: null, loading: true, loadingMore: false });
  const generation = useRef(0);
  const loadRef = useRef(loadPage);
  const keyRef = useRef(rowKey);
  const depsRef = useRef(deps);
  const stateRef = useRef(state);
  useLayoutEffect(() => {
    loadRef.current = loadPage;
    keyRef.current = rowKey;
    depsRef.current = deps;
    stateRef.current = state;
  });

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    const asked = depsRef.current;
    const before = stateRef.current;
    const kept = sameDeps(before.deps, asked) ? before.rows : undefined;
    // As far as the user had read: a reload after a write shows the rows where they were.
    const shown = kept?.length ?? 0;
    setState((s) =>
      sameDeps(s.deps, asked)
        ? { ...s, loading: true, error: undefined, moreError: undefined }
        : { deps: asked, nextCursor: null, loading: true, loadingMore: false }
    );
    try {
      let rows: T[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<T> = await loadRef.current(cursor);
        rows = appended(rows, page.rows, keyRef.current);
        cursor = page.nextCursor;
      } while (cursor !== null && rows.length < shown && mine === generation.current);
      if (mine === generation.current) {
        setState({ deps: asked, rows, nextCursor: cursor, loading: false, loadingMore: false });
      }
    } catch (e) {
      if (mine === generation.current) {
        setState((s) => ({
          ...s,
          deps: asked,
          rows: kept,
          error: toApiRequestError(e),
          loading: false,
          loadingMore: false,
        }));
      }
    }
  }, []);

  const loadMore = useCallback(async () => {
    const { nextCursor, loading, loadingMore } = stateRef.current;
    if (nextCursor === null || loading || loadingMore) {
      return;
    }
    // Not a new generation: a reload started meanwhile wins, and this page is dropped.
    const mine = generation.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: undefined }));
    try {
      const page = await loadRef.current(nextCursor);
      if (mine === generation.current) {
        setState((s) => ({
          ...s,
          rows: appended(s.rows ?? [], page.rows, keyRef.current),
          nextCursor: page.nextCursor,
          loadingMore: false,
        }));
      }
    } catch (e) {
      if (mine === generation.current) {
        setState((s) => ({ ...s, moreError: toApiRequestError(e), loadingMore: false }));
      }
    }
  }, []);

  useEffect(() => {
    reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(
    () => () => {
      generation.current++; // unmounted: drop answers still in flight
    },
    []
  );

  const current: Loaded<T> = sameDeps(state.deps, deps)
    ? state
    : { nextCursor: null, loading: true, loadingMore: false };
  return {
    value: current.rows,
    error: current.error,
    loading: current.loading,
    reload,
    hasMore: current.nextCursor !== null,
    loadMore,
    loadingMore: current.loadingMore,
    moreError: current.moreError,
  };
}
