// The explorer: every task seen, filtered by what is in the URL, newest first, paged by key
// (fast however deep), refreshing itself while the time range ends at "now".
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, Button, LinkButton, Stack, Text } from '@grafana/ui';
import { listTasks, type Params } from '../../api/service';
import type { Task } from '../../api/types';
import { toApiRequestError, type ApiRequestError } from '../../api/client';
import { AppPage } from '../../components/common/AppPage';
import { inProject, PLUGIN_BASE_URL, ROUTES } from '../../constants';
import { LoadOlder } from '../../components/common/LoadOlder';
import { Empty, LoadError, Loading } from '../../components/common/PageState';
import { useInterval } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { BulkActionsModal } from './BulkActions';
import { TaskFilters } from './TaskFilters';
import { TaskTable } from './TaskTable';
import { isLive, readFilters, toQuery, writeFilters, type TaskFilterValues } from './filters';

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

function TasksPage() {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => readFilters(params), [params]);
  const { allows, project } = useSession();

  const [tasks, setTasks] = useState<Task[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<ApiRequestError | null>(null);
  // Why the last Load older failed: said by its button, with the rows read kept (and live refresh on).
  const [moreError, setMoreError] = useState<ApiRequestError>();
  const [fresh, setFresh] = useState<Task[]>([]);
  // More tasks arrived in one refresh than it reads: live refresh stops until a reload.
  const [behind, setBehind] = useState(false);
  // The filters a bulk action acts on, resolved when it is opened: a relative range ("last 6
  // hours") ends now, not when the list was first loaded (live refresh showed newer tasks since).
  const [bulkFilters, setBulkFilters] = useState<Record<string, string> | null>(null);
  const generation = useRef(0);
  // The query the list on screen was first read with, its range resolved: Load older goes on
  // from it. Resolved again, a range relative to now ("last hour") would have moved on since,
  // and the oldest tasks of the list's range, past the new start, would never be listed.
  const readWith = useRef<Params | null>(null);
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
      const query = { ...toQuery(filters), project };
      const page = await listTasks({ ...query, limit: PAGE_SIZE });
      if (mine === generation.current) {
        readWith.current = query;
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
  }, [filters, project]);

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
  }, [loadFirst]);

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
      const query = readWith.current ?? { ...toQuery(filters), project };
      const page = await listTasks({ ...query, limit: PAGE_SIZE, cursor });
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
        const live = { ...toQuery(filters), project };
        const known = new Set(tasksRef.current.map(keyOf));
        if (known.size === 0) {
          const page = await listTasks({ ...live, limit: PAGE_SIZE });
          if (mine === generation.current && tasksRef.current.length === 0) {
            readWith.current = live;
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

  const change = (next: TaskFilterValues) => setParams(writeFilters(next));
  const filtered =
    params.toString() !== '' && params.toString() !== (filters.project ? `project=${filters.project}` : '');

  return (
    <AppPage
      actions={
        allows('operator') ? (
          <Button
            icon="layers-alt"
            variant="secondary"
            onClick={() => setBulkFilters(toQuery(filters))}
            disabled={tasks.length === 0}
          >
            Bulk actions
          </Button>
        ) : undefined
      }
    >
      <TaskFilters filters={filters} onChange={change} />
      {behind && (
        <Alert severity="info" title="More tasks arrived than live refresh shows">
          <Stack gap={2} alignItems="center">
            <Text>Reload to see all of them; live refresh is paused until then.</Text>
            <Button size="sm" variant="secondary" icon="sync" onClick={loadFirst}>
              Reload
            </Button>
          </Stack>
        </Alert>
      )}
      {fresh.length > 0 && (
        <Button
          variant="secondary"
          size="sm"
          icon="arrow-up"
          onClick={() => {
            setTasks((prev) => [...fresh, ...prev]);
            setFresh([]);
            window.scrollTo({ top: 0 });
          }}
        >
          {fresh.length} new task{fresh.length === 1 ? '' : 's'}
        </Button>
      )}
      {error && <LoadError error={error} what="tasks" onRetry={loadFirst} />}
      {loading && tasks.length === 0 && !error && <Loading text="Loading tasks…" />}
      {!loading && !error && tasks.length === 0 && (
        <Empty message={filtered ? 'No task matches these filters' : 'No tasks seen yet'}>
          {filtered ? (
            <Stack gap={1} justifyContent="center">
              <Text>Widen the time range or clear some filters.</Text>
              <LinkButton
                variant="secondary"
                size="sm"
                href={inProject(`${PLUGIN_BASE_URL}/${ROUTES.Tasks}`, filters.project)}
              >
                Clear filters
              </LinkButton>
            </Stack>
          ) : (
            <Text>
              Point an engine at z4j: Celery needs only its events turned on (<code>-E</code>); RQ, Dramatiq, Huey, arq
              and taskiq need the z4j agent (Settings → Agents shows the snippet).
            </Text>
          )}
        </Empty>
      )}
      {tasks.length > 0 && <TaskTable tasks={tasks} project={project} />}
      <LoadOlder
        list={{ hasMore: cursor !== null && tasks.length > 0, loadMore, loading, loadingMore, moreError }}
        what="tasks"
      />
      {bulkFilters && (
        <BulkActionsModal
          filters={bulkFilters}
          project={project}
          onClose={() => {
            setBulkFilters(null);
            loadFirst();
          }}
        />
      )}
    </AppPage>
  );
}

export default TasksPage;
