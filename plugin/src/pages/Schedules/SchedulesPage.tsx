// Schedules: tasks z4j sends itself on a cron, in a time zone. Everyone reads them and their runs;
// Operators switch them on and off and run them now; Admins create, edit and delete them.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Badge, Button, Stack, Text, useStyles2 } from '@grafana/ui';
import { deleteSchedule, listSchedules } from '../../api/service';
import type { Schedule } from '../../api/types';
import { AppPage } from '../../components/common/AppPage';
import { ConfirmOnItem } from '../../components/common/ConfirmOnItem';
import { DataTable } from '../../components/common/DataTable';
import { LoadOlder } from '../../components/common/LoadOlder';
import { OutcomeShelf } from '../../components/common/OutcomeShelf';
import { Empty, LoadError, Loading, Refused } from '../../components/common/PageState';
import { StateBadge } from '../../components/common/StateBadge';
import { useInterval } from '../../hooks/useAsync';
import { useGuard } from '../../hooks/useGuard';
import { PAGE_SIZE, usePagedList } from '../../hooks/usePagedList';
import { useSession } from '../../hooks/useSession';
import { formatAgo, formatMinute } from '../../utils/format';
import { cronInWords } from './cron';
import { EnabledSwitch, RunNowButton } from './ScheduleActions';
import { ScheduleDrawer } from './ScheduleForm';
import { RunTask, ScheduleRunsDrawer } from './ScheduleRuns';

/** Next and last runs move on by themselves: the list is read again this often. */
const REFRESH_MS = 30_000;

function SchedulesPage() {
  const { project, allows, me, sendable } = useSession();
  const schedules = usePagedList(
    (cursor) =>
      listSchedules(project, { limit: PAGE_SIZE, cursor }).then((p) => ({
        rows: p.schedules,
        nextCursor: p.nextCursor,
      })),
    (s) => s.id,
    [project]
  );
  useInterval(schedules.reload, REFRESH_MS);
  // The drawer open: a new schedule, one to edit (by id: it is read afresh), or one's runs.
  const [editing, setEditing] = useState<{ id?: string } | null>(null);
  const [showingRuns, setShowingRuns] = useState<Schedule | null>(null);
  const [deleting, setDeleting] = useState<Schedule | null>(null);
  const deletion = useGuard();
  const rows = schedules.value ?? [];
  const newSchedule = allows('admin') ? (
    <Button icon="plus" onClick={() => setEditing({})}>
      New schedule
    </Button>
  ) : undefined;
  // A driver is not enough: Celery's exists without brokers, and cannot send then.
  const canSend = (s: Schedule) => !sendable || sendable.includes(s.engine);

  return (
    <AppPage actions={rows.length > 0 ? newSchedule : undefined}>
      {schedules.error && <LoadError error={schedules.error} what="schedules" onRetry={schedules.reload} />}
      {schedules.loading && !schedules.value && <Loading text="Loading schedules…" />}
      {schedules.value && rows.length === 0 && (
        <Empty message="No schedules yet" variant="call-to-action">
          <Stack direction="column" alignItems="center" gap={2}>
            <Text element="p">
              A schedule sends a task to a queue on a cron, in a time zone. z4j sends it itself, the way a retry from
              z4j is sent, so each run shows in the explorer like any other task.
            </Text>
            {newSchedule ?? (
              <Text color="secondary" element="p">
                Project Admins create schedules; you are {me?.role ?? 'not a member'} in{' '}
                {me?.project.name ?? 'this project'}.
              </Text>
            )}
          </Stack>
        </Empty>
      )}
      <Refused title="The schedule was not deleted" error={deletion.error} onRemove={deletion.clearError} />
      {rows.length > 0 && (
        <OutcomeShelf>
          <DataTable
            label="Schedules"
            rows={rows}
            rowKey={(s) => s.id}
            columns={[
              // First: on a narrow screen the row's actions cover the last columns.
              { header: 'Enabled', cell: (s) => <EnabledSwitch schedule={s} onChanged={schedules.reload} /> },
              { header: 'Name', cell: (s) => s.name },
              // The task with where it goes underneath: two columns fewer, so the row's actions
              // leave the last run in sight at laptop widths.
              { header: 'Task', cell: (s) => <TaskCell schedule={s} canSend={canSend(s)} /> },
              { header: 'Cron', cell: (s) => <Cron schedule={s} />, wrap: true },
              { header: 'Next run', cell: (s) => <NextRun schedule={s} /> },
              { header: 'Last run', cell: (s) => <LastRun schedule={s} project={project} /> },
              {
                header: 'Actions',
                hideHeader: true,
                sticky: true,
                cell: (s) => (
                  <Stack gap={1}>
                    {/* Icons with tooltips: words would cover the last run at laptop widths. */}
                    <Button
                      size="sm"
                      variant="secondary"
                      icon="history"
                      aria-label={`Runs of ${s.name}`}
                      tooltip="Runs"
                      onClick={() => setShowingRuns(s)}
                    />
                    {allows('operator') && <RunNowButton schedule={s} onDone={schedules.reload} />}
                    {allows('admin') && (
                      <>
                        <Button
                          size="sm"
                          variant="secondary"
                          icon="pen"
                          aria-label={`Edit ${s.name}`}
                          tooltip="Edit"
                          onClick={() => setEditing({ id: s.id })}
                        />
                        <Button
                          size="sm"
                          variant="destructive"
                          fill="text"
                          icon="trash-alt"
                          aria-label={`Delete ${s.name}`}
                          tooltip="Delete"
                          disabled={deletion.busy}
                          onClick={() => setDeleting(s)}
                        />
                      </>
                    )}
                  </Stack>
                ),
              },
            ]}
          />
        </OutcomeShelf>
      )}
      <LoadOlder list={schedules} what="schedules" />
      {editing && (
        <ScheduleDrawer
          scheduleId={editing.id}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            schedules.reload();
          }}
        />
      )}
      {showingRuns && <ScheduleRunsDrawer schedule={showingRuns} onClose={() => setShowingRuns(null)} />}
      <ConfirmOnItem
        item={deleting}
        title={(s) => `Delete the schedule ${s.name}?`}
        body={(s) =>
          `${s.taskName} will no longer be sent on ${s.cron} (${s.timezone}). Tasks it already sent are not affected. This cannot be undone.`
        }
        confirmText="Delete"
        onConfirm={(s) =>
          deletion.guard(async () => {
            await deleteSchedule(s.id, project);
            await schedules.reload();
          })
        }
        onDismiss={() => setDeleting(null)}
      />
    </AppPage>
  );
}

/** The task's name, and underneath the engine and queue it is sent to (flagged when the service cannot send with that engine). */
function TaskCell({ schedule, canSend }: { schedule: Schedule; canSend: boolean }) {
  const styles = useStyles2(getStyles);
  return (
    <div>
      <span className={styles.mono}>{schedule.taskName}</span>
      <Stack gap={0.5} alignItems="center">
        <span className={styles.secondary}>
          {schedule.engine} · {schedule.queue ?? 'default queue'}
        </span>
        {!canSend && (
          <Badge
            color="orange"
            icon="exclamation-triangle"
            text="cannot send"
            tooltip={`This service cannot send ${schedule.engine} tasks (no ${schedule.engine} driver configured, or one that cannot send a call): its runs fail until it can.`}
          />
        )}
      </Stack>
    </div>
  );
}

function Cron({ schedule }: { schedule: Schedule }) {
  const styles = useStyles2(getStyles);
  const words = cronInWords(schedule.cron);
  return (
    <div>
      <span className={styles.mono}>{schedule.cron}</span>
      <div className={styles.secondary}>
        {words ? `${words} · ` : ''}
        {schedule.timezone}
      </div>
    </div>
  );
}

function NextRun({ schedule }: { schedule: Schedule }) {
  const styles = useStyles2(getStyles);
  if (!schedule.nextRunAt) {
    return <Text color="secondary">{schedule.enabled ? '—' : 'disabled'}</Text>;
  }
  return (
    <div>
      {formatMinute(schedule.nextRunAt)}
      <div className={styles.secondary}>{formatAgo(schedule.nextRunAt)}</div>
    </div>
  );
}

function LastRun({ schedule, project }: { schedule: Schedule; project?: string }) {
  const styles = useStyles2(getStyles);
  const run = schedule.lastRun;
  if (!run) {
    return <Text color="secondary">never</Text>;
  }
  return (
    <Stack gap={1} alignItems="center">
      <span title={run.error ?? undefined}>
        <StateBadge state={run.state} />
      </span>
      <div>
        {formatMinute(run.firedAt)}
        <div className={styles.secondary}>
          {run.taskId ? <RunTask run={run} engine={schedule.engine} project={project} short /> : clip(run.error ?? '')}
        </div>
      </div>
    </Stack>
  );
}

/** A long error stays within the row; the whole of it is on the badge's hover. */
const clip = (text: string) => (text.length > 60 ? `${text.slice(0, 59)}…` : text);

const getStyles = (theme: GrafanaTheme2) => ({
  mono: css({ fontFamily: theme.typography.fontFamilyMonospace }),
  secondary: css({ color: theme.colors.text.secondary }),
});

export default SchedulesPage;
