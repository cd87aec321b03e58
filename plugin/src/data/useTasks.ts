// The explorer's list: every task the filters match, newest first, paged by key (fast however
// deep), and refreshing itself while the time range ends at "now".
import { useCallback, useEffect, useRef, useState } from 'react';
import { listTasks, type Params } from '../api/service';
import type { Task } from '../api/types';
import { toApiRequestError, type ApiRequestError } from '../api/client';
import type { OlderPages } from '../components/common/LoadOlder';
import { useInterval } from '../hooks/useAsync';
import { usePinnedQuery } from '../hooks/usePinnedQuery';
import { isLive, toQuery, type TaskFilterValues } from '../pages/Tasks/filters';

const PAGE_SIZE = 50;
const LIVE_MS = 5000;
/** Pages one live refresh may read to reach the rows on screen (a burst beyond asks for a reload). */
const LIVE_MAX_PAGES = 5;

const keyOf = (t: Task) => `${t.engine}/${t.taskId}`;

/**
 * The tasks newer than those on screen (`known`), newest first, read page by page until a
 * known row shows up. `reachedKnown` is false when the page bound ran out first: between
 * these rows and the ones on screen there are others not read.
 */
async function readNewerTasks(query: Params, known: Set<string>): Promise<{ tasks: Task[]; reachedKnown: boolean }> {
  const tasks: Task[] = [];
  let cursor: string | null = null;
  for (let read = 0; read < LIVE_MAX_PAGES; read++) {
    const page = await listTasks({ ...query, limit: PAGE_SIZE, cursor });
    tasks.push(...page.tasks);
    cursor = page.nextCursor;
    if (page.tasks.some((t) => known.has(keyOf(t))) || cursor === null) {
      return { tasks, reachedKnown: true };
    }
  }
  return { tasks, reachedKnown: false };
}

export interface TaskList {
  tasks: Task[];
  loading: boolean;
  error: ApiRequestError | null;
  /** Reads the first page again, the range ending now (Reload, Try again, after a bulk action). */
  reload: () => Promise<void>;
  /** For the Load older button. */
  older: OlderPages;
  /** Tasks a live refresh found while the user was reading further down, held back. */
  fresh: Task[];
  /** Puts the held-back tasks at the top of the list. */
  showFresh: () => void;
  /** More tasks arrived in one refresh than it reads: live refresh stops until a reload. */
  behind: boolean;
}

export function useTasks(filters: TaskFilterValues, project: string | undefined): TaskList {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<ApiRequestError | null>(null);
  // Why the last Load older failed: said by its button, with the rows read kept (and live refresh on).
  const [moreError, setMoreError] = useState<ApiRequestError>();
  const [fresh, setFresh] = useState<Task[]>([]);
  const [behind, setBehind] = useState(false);
  const generation = useRef(0);
  // Pinned when a first page is shown (not when asked for: a Reload that fails keeps the rows
  // and cursor of the read before it), for Load older to go on from.
  const query = usePinnedQuery<Params>(() => ({ ...toQuery(filters), project }));
  // The rows on screen, for the live refresh to tell new tasks from known ones.
  const tasksRef = useRef<Task[]>([]);
  useEffect(() => {
    tasksRef.current = tasks;
  }, [tasks]);

  // The range is resolved at each read, not once per filter set: "last 24 hours" read by Reload
  // (or Try again, or after a bulk action) ends now, not when the filters were set, else the
  // tasks that arrived since (a burst that paused live refresh) would never be reached.
  const loadFirst = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    setError(null);
    setMoreError(undefined);
    try {
      const first = query.fresh();
      const page = await listTasks({ ...first, limit: PAGE_SIZE });
      if (mine === generation.current) {
        query.pin(first);
        setTasks(page.tasks);
        setCursor(page.nextCursor);
        setFresh([]);
        setBehind(false);
      }
    } catch (e) {
      if (mine === generation.current) {
        setError(toApiRequestError(e));
      }
    } finally {
      if (mine === generation.current) {
        setLoading(false);
      }
    }
  }, [query]);

  useEffect(() => {
    // A new filter set starts a request. The rows and cursor on screen are the previous
    // filters': shown on, they would read as the new filters' answer, and Load older would
    // append a page from the old cursor (a silent gap). A reload of the same filters (Reload,
    // a bulk dialog closed) keeps them on screen until its answer comes.
    /* eslint-disable react-hooks/set-state-in-effect */
    setTasks([]);
    setCursor(null);
    setFresh([]);
    /* eslint-enable react-hooks/set-state-in-effect */
    loadFirst();
  }, [loadFirst, filters, project]);

  const loadMore = async () => {
    // While the first page is read again, the cursor on screen is about to be replaced; and a
    // page read now would drop that reload's answer, leaving the list loading for ever (and live
    // refresh, which waits for it, stopped).
    if (!cursor || loading) {
      return;
    }
    // A live refresh in flight read the rows before this page: its answer is dropped.
    const mine = ++generation.current;
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await listTasks({ ...query.next(), limit: PAGE_SIZE, cursor });
      if (mine === generation.current) {
        setTasks((prev) => [...prev, ...page.tasks.filter((t) => !prev.some((p) => keyOf(p) === keyOf(t)))]);
        setCursor(page.nextCursor);
      }
    } catch (e) {
      if (mine === generation.current) {
        setMoreError(toApiRequestError(e));
      }
    } finally {
      setLoadingMore(false);
    }
  };

  // Live: re-read the newest tasks with the range's end moved to now, down to the rows on
  // screen. Those are updated in place (a running task turns green); new ones are held behind a
  // button unless the user is at the top of the list, so reading further down is never
  // disturbed. With nothing on screen yet, the first page simply becomes the list.
  useInterval(
    async () => {
      const mine = generation.current;
      try {
        const live = query.fresh();
        const known = new Set(tasksRef.current.map(keyOf));
        if (known.size === 0) {
          const page = await listTasks({ ...live, limit: PAGE_SIZE });
          if (mine === generation.current && tasksRef.current.length === 0) {
            query.pin(live);
            setTasks(page.tasks);
            setCursor(page.nextCursor);
          }
          return;
        }
        const { tasks: read, reachedKnown } = await readNewerTasks(live, known);
        if (mine !== generation.current) {
          return;
        }
        if (!reachedKnown) {
          setBehind(true);
          return;
        }
        const newer = read.filter((t) => !known.has(keyOf(t)));
        const byKey = new Map(read.map((t) => [keyOf(t), t]));
        const atTop = typeof window === 'undefined' || window.scrollY < 40;
        setTasks((prev) => {
          const updated = prev.map((t) => byKey.get(keyOf(t)) ?? t);
          return atTop ? [...newer.filter((t) => !prev.some((p) => keyOf(p) === keyOf(t))), ...updated] : updated;
        });
        setFresh(atTop ? [] : newer);
      } catch {
        /* a failed refresh keeps what is shown; the next tick tries again */
      }
    },
    isLive(filters) && !loading && !error && !behind ? LIVE_MS : null
  );

  const showFresh = () => {
    setTasks((prev) => [...fresh, ...prev]);
    setFresh([]);
  };

  return {
    tasks,
    loading,
    error,
    reload: loadFirst,
    older: { hasMore: cursor !== null && tasks.length > 0, loadMore, loading, loadingMore, moreError },
    fresh,
    showFresh,
    behind,
  };
}
