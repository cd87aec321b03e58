// Workers: who is online, heartbeats, concurrency and load, and the control actions the
// engine and the user's role allow (shutdown needs Admin).
import React, { useState } from 'react';
import { Badge, Button, LinkButton, Stack, Text } from '@grafana/ui';
import { controlActionsFor, WorkerControlModal } from './WorkerControl';
import { runWorkerAction } from '../../api/service';
import type { Command, Worker } from '../../api/types';
import { ActionButton, CommandOutcome } from '../../components/common/ActionButton';
import { AppPage } from '../../components/common/AppPage';
import { Empty, LoadError, Loading } from '../../components/common/PageState';
import { DataTable } from '../../components/common/DataTable';
import { OnShelf, OutcomeShelf } from '../../components/common/OutcomeShelf';
import { useWorkers } from '../../data/useWorkers';
import { useSession } from '../../hooks/useSession';
import { formatAgo } from '../../utils/format';
import { PLUGIN_BASE_URL, ROUTES } from '../../constants';
import { DEFAULT_TO, writeFilters } from '../Tasks/filters';

function WorkersPage() {
  const { project } = useSession();
  const workers = useWorkers(project);
  const rows = workers.value?.workers ?? [];
  // Kept here, not by the Shut down button: a worker that went offline shows no button, and the
  // outcome must stay in view. Each with its project: another project's is not shown (nor asked
  // after in this one).
  const [outcomes, setOutcomes] = useState<Record<string, { label: string; command: Command; project?: string }>>({});
  const showOutcome = (w: Worker, label: string) => (command: Command) =>
    setOutcomes((o) => ({
      ...o,
      [`${project ?? ''}/${w.engine}/${w.hostname}`]: { label: `${label} ${w.hostname}`, command, project },
    }));
  const shown = Object.entries(outcomes).filter(([, o]) => o.project === project);

  return (
    <AppPage>
      {workers.error && <LoadError error={workers.error} what="workers" onRetry={workers.reload} />}
      {workers.loading && !workers.value && <Loading text="Loading workers…" />}
      {workers.value && rows.length === 0 && (
        <Empty message="No worker has reported yet">
          Celery workers report with events on (<code>-E</code>); the other engines through the z4j agent.
        </Empty>
      )}
      {rows.length > 0 && (
        <Text color="secondary" element="p">
          Online workers, and those seen in the last week.
          {workers.value?.truncated && ' More have reported than this list shows: the online ones come first.'}
        </Text>
      )}
      {rows.length > 0 && (
        <OutcomeShelf>
          {shown.map(([key, { label, command }]) => (
            <OnShelf key={key}>
              <CommandOutcome command={command} label={label} />
            </OnShelf>
          ))}
          <DataTable
            label="Workers"
            rows={rows}
            rowKey={(w) => `${w.engine}/${w.hostname}`}
            columns={[
              {
                header: 'Status',
                cell: (w) => <Badge text={w.online ? 'online' : 'offline'} color={w.online ? 'green' : 'darkgrey'} />,
              },
              { header: 'Worker', cell: (w) => <span title={w.software ?? undefined}>{w.hostname}</span> },
              { header: 'Engine', cell: (w) => w.engine },
              { header: 'Last heartbeat', cell: (w) => formatAgo(w.lastSeenAt) },
              { header: 'Concurrency', cell: (w) => w.concurrency ?? '—', numeric: true },
              { header: 'In flight', cell: (w) => w.active ?? '—', numeric: true },
              { header: 'Processed', cell: (w) => w.processed ?? '—', numeric: true },
              { header: 'Failed (24 h)', cell: (w) => w.failed24h, numeric: true },
              {
                header: 'Agent dropped',
                cell: (w) => <AgentDropped worker={w} />,
                numeric: true,
              },
              {
                header: 'Load (1 min)',
                cell: (w) => (w.loadavg?.length ? w.loadavg[0]!.toFixed(2) : '—'),
                numeric: true,
              },
              {
                header: 'Actions',
                hideHeader: true,
                cell: (w) => (
                  <WorkerActions worker={w} onDone={workers.reload} onCommand={showOutcome(w, 'Shut down')} />
                ),
                sticky: true,
              },
            ]}
          />
        </OutcomeShelf>
      )}
    </AppPage>
  );
}

function WorkerActions({
  worker,
  onDone,
  onCommand,
}: {
  worker: Worker;
  onDone: () => void;
  onCommand: (command: Command) => void;
}) {
  const { can, allows, project } = useSession();
  const [controlling, setControlling] = useState(false);
  // An offline worker is offered no control, only its tasks; a dialog opened before it went
  // offline stays open.
  return (
    <Stack gap={1}>
      <LinkButton
        size="sm"
        variant="secondary"
        fill="text"
        icon="list-ul"
        href={startedTasksUrl(worker, project)}
        tooltip={
          worker.online
            ? undefined
            : "The tasks it left started. Once it has been silent past the service's limit (Z4J_WORKER_LOST_AFTER, a minute by default), they are lost with it: an Operator can retry each, or all at once with a bulk retry."
        }
      >
        {worker.online ? 'Running tasks' : 'Tasks left started'}
      </LinkButton>
      {worker.online && allows('operator') && controlActionsFor(can, worker.engine).length > 0 && (
        <Button size="sm" variant="secondary" icon="sliders-v-alt" onClick={() => setControlling(true)}>
          Control…
        </Button>
      )}
      {controlling && (
        <WorkerControlModal
          worker={worker}
          onClose={() => {
            setControlling(false);
            onDone();
          }}
        />
      )}
      {worker.online && allows('admin') && can(worker.engine, 'worker.shutdown') && (
        <ActionButton
          label="Shut down"
          icon="power"
          variant="destructive"
          title={`Shut down ${worker.hostname}?`}
          body="The worker finishes its running tasks (warm shutdown) and exits. Whatever supervises it decides whether it comes back."
          confirmText="Shut down"
          run={(key) => runWorkerAction(worker.engine, worker.hostname, 'shutdown', {}, key, project)}
          onSettled={onDone}
          onCommand={onCommand}
        />
      )}
    </Stack>
  );
}

export default WorkersPage;

/**
 * The explorer filtered to the tasks the worker has started and not ended, since it was first
 * seen (an hour earlier: task times are the workers' clocks). For a worker gone, those it left
 * behind, which the explorer's bulk retry can send again.
 */
function startedTasksUrl(w: Worker, project?: string): string {
  const filters = writeFilters({
    project,
    engine: [w.engine],
    state: ['started'],
    worker: w.hostname,
    from: String(Date.parse(w.firstSeenAt) - 3_600_000),
    to: DEFAULT_TO,
  });
  return `${PLUGIN_BASE_URL}/${ROUTES.Tasks}?${filters}`;
}

/** What the worker's agent could not deliver: events (timeline gaps) and retry payloads (tasks z4j cannot retry). */
function AgentDropped({ worker: w }: { worker: Worker }) {
  if (!w.dropped && !w.payloadsDropped) {
    return <>{w.dropped === 0 ? 0 : '—'}</>;
  }
  return (
    <Stack direction="row" gap={0.5} justifyContent="flex-end">
      {w.dropped ? (
        <Badge
          text={`${w.dropped} events`}
          color="orange"
          tooltip="Events the agent could not deliver: the timeline may have gaps"
        />
      ) : null}
      {w.payloadsDropped ? (
        <Badge
          text={`${w.payloadsDropped} payloads`}
          color="orange"
          tooltip="Tasks sent without their retry payload (too big, or holding a value JSON cannot carry exactly, such as a datetime): they cannot be retried from z4j; each one's timeline says why"
        />
      ) : null}
    </Stack>
  );
}
