// A schedule's runs, newest first, paged by key: when each fired, for which cron time (or who
// pressed "Run now"), what became of it and the task it sent.
import React from 'react';
import { Badge, Drawer, Text, TextLink } from '@grafana/ui';
import { listScheduleRuns } from '../../api/service';
import type { Schedule, ScheduleRun } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { LoadOlder } from '../../components/common/LoadOlder';
import { pendingState, ReloadFailed } from '../../components/common/PageState';
import { StateBadge } from '../../components/common/StateBadge';
import { inProject, taskUrl } from '../../constants';
import { PAGE_SIZE, usePagedList } from '../../hooks/usePagedList';
import { useSession } from '../../hooks/useSession';
import { formatMinute, formatTime } from '../../utils/format';

export function ScheduleRunsDrawer({ schedule, onClose }: { schedule: Schedule; onClose: () => void }) {
  const { project } = useSession();
  const runs = usePagedList(
    (cursor) =>
      listScheduleRuns(schedule.id, project, { limit: PAGE_SIZE, cursor }).then((p) => ({
        rows: p.runs,
        nextCursor: p.nextCursor,
      })),
    (r) => r.id,
    [schedule.id, project]
  );
  return (
    <Drawer
      title={`Runs of ${schedule.name}`}
      subtitle={`${schedule.engine} · ${schedule.taskName}`}
      size="lg"
      onClose={onClose}
    >
      {pendingState(runs, 'the runs') ?? (
        <>
          <ReloadFailed state={runs} what="the runs" />
          <DataTable
            label="Runs"
            emptyText="It has not run yet."
            rows={runs.value ?? []}
            rowKey={(r) => r.id}
            columns={[
              { header: 'Fired', cell: (r) => formatTime(r.firedAt) },
              { header: 'Trigger', cell: (r) => <Trigger run={r} /> },
              { header: 'Due', cell: (r) => formatMinute(r.dueAt) },
              { header: 'State', cell: (r) => <StateBadge state={r.state} /> },
              { header: 'Missed', cell: (r) => <Missed count={r.missed} />, numeric: true },
              { header: 'Task', cell: (r) => <RunTask run={r} engine={schedule.engine} project={project} /> },
              { header: 'Error', cell: (r) => r.error ?? '', wrap: true },
            ]}
          />
          <LoadOlder list={runs} what="runs" />
        </>
      )}
    </Drawer>
  );
}

function Trigger({ run }: { run: ScheduleRun }) {
  return run.trigger === 'manual' ? <>manual, by {run.requestedBy ?? 'someone'}</> : <>cron</>;
}

// The service counts skipped cron times up to this many (docs/schedules.md): a run at the cap missed at least as many.
const MISSED_COUNTED_UP_TO = 100;

function Missed({ count }: { count: number }) {
  const shown = count >= MISSED_COUNTED_UP_TO ? `${MISSED_COUNTED_UP_TO}+` : String(count);
  return count > 0 ? (
    <Badge
      color="orange"
      text={shown}
      tooltip={`${count >= MISSED_COUNTED_UP_TO ? `At least ${MISSED_COUNTED_UP_TO}` : count} cron time${count === 1 ? ' was' : 's were'} skipped while the service was down: it fired once for them all.`}
    />
  ) : (
    <Text color="secondary">0</Text>
  );
}

/** The task a run sent, linked to its page; a run sent through an agent names its command until then. */
export function RunTask({
  run,
  engine,
  project,
  short,
}: {
  run: ScheduleRun;
  engine: string;
  project?: string;
  short?: boolean;
}) {
  if (run.taskId) {
    // Short in the list (a UUID would push the row's actions over it); named in full for readers.
    const shown = short && run.taskId.length > 12 ? `${run.taskId.slice(0, 8)}…` : run.taskId;
    return (
      <TextLink href={inProject(taskUrl(engine, run.taskId), project)} aria-label={run.taskId} title={run.taskId}>
        {shown}
      </TextLink>
    );
  }
  return <Text color="secondary">{run.commandId ? `command #${run.commandId}` : '—'}</Text>;
}
