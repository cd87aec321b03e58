// The explorer: every task seen, filtered by what is in the URL, newest first, paged by key
// (fast however deep), refreshing itself while the time range ends at "now" (data/useTasks).
import React, { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, Button, LinkButton, Stack, Text } from '@grafana/ui';
import { AppPage } from '../../components/common/AppPage';
import { inProject, PLUGIN_BASE_URL, ROUTES } from '../../constants';
import { LoadOlder } from '../../components/common/LoadOlder';
import { Empty, LoadError, Loading } from '../../components/common/PageState';
import { useTasks } from '../../data/useTasks';
import { useSession } from '../../hooks/useSession';
import { BulkActionsModal } from './BulkActions';
import { TaskFilters } from './TaskFilters';
import { TaskTable } from './TaskTable';
import { readFilters, toQuery, writeFilters, type TaskFilterValues } from './filters';

function TasksPage() {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => readFilters(params), [params]);
  const { allows, project } = useSession();

  const list = useTasks(filters, project);
  const { tasks, fresh } = list;
  // The filters a bulk action acts on, resolved when it is opened: a relative range ("last 6
  // hours") ends now, not when the list was first loaded (live refresh showed newer tasks since).
  const [bulkFilters, setBulkFilters] = useState<Record<string, string> | null>(null);

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
      {list.behind && (
        <Alert severity="info" title="More tasks arrived than live refresh shows">
          <Stack gap={2} alignItems="center">
            <Text>Reload to see all of them; live refresh is paused until then.</Text>
            <Button size="sm" variant="secondary" icon="sync" onClick={list.reload}>
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
            list.showFresh();
            window.scrollTo({ top: 0 });
          }}
        >
          {fresh.length} new task{fresh.length === 1 ? '' : 's'}
        </Button>
      )}
      {list.error && <LoadError error={list.error} what="tasks" onRetry={list.reload} />}
      {list.loading && tasks.length === 0 && !list.error && <Loading text="Loading tasks…" />}
      {!list.loading && !list.error && tasks.length === 0 && (
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
      <LoadOlder list={list.older} what="tasks" />
      {bulkFilters && (
        <BulkActionsModal
          filters={bulkFilters}
          project={project}
          onClose={() => {
            setBulkFilters(null);
            list.reload();
          }}
        />
      )}
    </AppPage>
  );
}

export default TasksPage;
