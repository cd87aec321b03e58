// What an Operator does to a schedule from its row: switch it on or off, and run it now (after
// confirming), with the run that made, or the refusal, shown above the table.
import React, { useState } from 'react';
import { Alert, Badge, Button, ConfirmModal, Switch } from '@grafana/ui';
import { newIdempotencyKey, runSchedule, setScheduleEnabled } from '../../api/service';
import type { Schedule, ScheduleRun } from '../../api/types';
import { OnShelf } from '../../components/common/OutcomeShelf';
import { Refused } from '../../components/common/PageState';
import { useGuard } from '../../hooks/useGuard';
import { useSession } from '../../hooks/useSession';
import { RunTask } from './ScheduleRuns';
import { confirmVariantOf } from '../../components/common/confirmVariant';

/** The switch for those who may use it (Operator and up), else what it is set to. */
export function EnabledSwitch({ schedule, onChanged }: { schedule: Schedule; onChanged: () => Promise<void> }) {
  const { allows, project } = useSession();
  const { busy, error, clearError, guard } = useGuard();
  if (!allows('operator')) {
    return schedule.enabled ? <Badge color="green" text="enabled" /> : <Badge color="darkgrey" text="disabled" />;
  }
  return (
    <>
      <Switch
        value={schedule.enabled}
        aria-label={`${schedule.name} enabled`}
        disabled={busy}
        onChange={() =>
          guard(async () => {
            await setScheduleEnabled(schedule.id, !schedule.enabled, project);
            await onChanged();
          })
        }
      />
      <OnShelf>
        <Refused
          title={`${schedule.name} was not ${schedule.enabled ? 'disabled' : 'enabled'}`}
          error={error}
          onRemove={clearError}
        />
      </OnShelf>
    </>
  );
}

/**
 * Sends the schedule's task once, now. The Idempotency-Key is made when the dialog opens, so a
 * double click or a retried request runs it once.
 */
export function RunNowButton({ schedule, onDone }: { schedule: Schedule; onDone: () => void }) {
  const { project } = useSession();
  const [key, setKey] = useState<string | null>(null);
  const [run, setRun] = useState<ScheduleRun | null>(null);
  const { busy, error, clearError, guard } = useGuard();
  const confirm = () =>
    guard(async () => {
      const asked = key!;
      setKey(null);
      setRun(null);
      setRun((await runSchedule(schedule.id, asked, project)).run);
      onDone();
    });
  return (
    <>
      <Button
        size="sm"
        variant="secondary"
        icon="play"
        aria-label={`Run ${schedule.name} now`}
        tooltip="Run now"
        disabled={busy}
        onClick={() => setKey(newIdempotencyKey())}
      />
      <ConfirmModal
        isOpen={key !== null}
        title={`Run ${schedule.name} now?`}
        body={`${schedule.taskName} is sent once, now, to ${schedule.queue ? `queue ${schedule.queue}` : 'its default queue'} of ${schedule.engine}, with the schedule's arguments. Its cron times do not change.`}
        confirmText="Run now"
        {...confirmVariantOf('primary')}
        onConfirm={confirm}
        onDismiss={() => setKey(null)}
      />
      <OnShelf>
        {run && <RunOutcome run={run} schedule={schedule} onRemove={() => setRun(null)} />}
        <Refused title={`Run now of ${schedule.name} was refused`} error={error} onRemove={clearError} />
      </OnShelf>
    </>
  );
}

const SEVERITY = { sent: 'success', dispatched: 'info', sending: 'info', failed: 'error' } as const;

function RunOutcome({ run, schedule, onRemove }: { run: ScheduleRun; schedule: Schedule; onRemove: () => void }) {
  const { project } = useSession();
  return (
    <Alert severity={SEVERITY[run.state]} title={`Run now of ${schedule.name}: ${run.state}`} onRemove={onRemove}>
      {run.error && <div>{run.error}</div>}
      {(run.taskId || run.commandId) && (
        <div>
          Task: <RunTask run={run} engine={schedule.engine} project={project} />
        </div>
      )}
      <div>Requested by {run.requestedBy ?? 'you'}</div>
    </Alert>
  );
}
