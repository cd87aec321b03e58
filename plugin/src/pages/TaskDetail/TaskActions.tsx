// Retry, cancel, terminate: each shown only when the engine can do it and the user's role
// allows it (Operator), and only for a task in a state the action applies to.
import React, { useState } from 'react';
import { Stack } from '@grafana/ui';
import { runTaskAction } from '../../api/service';
import type { Command, TaskDetail } from '../../api/types';
import { ActionButton, CommandOutcome } from '../../components/common/ActionButton';
import { useSession } from '../../hooks/useSession';

// The states each action applies to (the service refuses the others the same way), and a
// started task lost with its worker (workerGone), which only a retry can bring back.
const ACCEPTS = {
  retry: ['failed', 'succeeded', 'revoked', 'rejected', 'expired'],
  cancel: ['enqueued', 'received'],
  terminate: ['received', 'started', 'retried'],
};

/** Why the task has no retry payload, when its agent said so: the first `payloadOmitted` of its timeline. */
export function payloadOmitted(events: TaskDetail['events']): string | undefined {
  for (const event of events) {
    const reason = event.fields?.payloadOmitted;
    if (typeof reason === 'string') {
      return reason;
    }
  }
  return undefined;
}

export function TaskActions({
  task,
  omitted,
  onDone,
}: {
  task: TaskDetail['task'];
  /** Why the agent left out the task's call (payloadOmitted), if it did. */
  omitted?: string;
  onDone: () => void;
}) {
  const { can, allows, project } = useSession();
  // Shown here, not by the button: a cancelled task reloads without its Cancel button, and the
  // outcome must stay in view.
  const [last, setLast] = useState<{ label: string; command: Command } | null>(null);
  if (!allows('operator')) {
    return null;
  }
  const label = task.name ?? task.taskId;
  const lostWith = task.state === 'started' ? task.workerGone?.hostname : undefined;
  const applies = (action: keyof typeof ACCEPTS) =>
    lostWith ? action === 'retry' : ACCEPTS[action].includes(task.state);
  const show = (action: keyof typeof ACCEPTS) => can(task.engine, `task.${action}`) && applies(action);
  return (
    <Stack gap={1} direction="column" alignItems="flex-end">
      <Stack gap={1}>
        {show('retry') && (
          <ActionButton
            label="Retry"
            icon="repeat"
            disabledReason={
              task.hasPayload !== false
                ? undefined
                : omitted !== undefined
                  ? `The agent left out this task's call, so z4j cannot retry it: ${omitted}`
                  : "z4j has no copy of this task's original call yet: the z4j agent in the process that sent it records it (Settings → Agents)"
            }
            variant="primary"
            title="Retry this task?"
            body={
              `${label} will be sent again to queue ${task.queue ?? '(its queue)'} with its original arguments, as a new task linked to this one.` +
              (lostWith
                ? ` It never reported an end and its worker ${lostWith} is gone. Where the broker gives a dead worker's unacknowledged messages back (Celery with acks_late, Dramatiq, arq, RabbitMQ brokers), the engine may run the original again as well.`
                : '')
            }
            confirmText="Retry"
            run={(key) => runTaskAction(task.engine, task.taskId, 'retry', key, project)}
            onSettled={onDone}
            onCommand={(command) => setLast({ label: 'Retry', command })}
          />
        )}
        {show('cancel') && (
          <ActionButton
            label="Cancel"
            icon="ban"
            title="Cancel this task?"
            body={`${label} has not started. It will be removed from its queue and never run.`}
            confirmText="Cancel the task"
            variant="destructive"
            run={(key) => runTaskAction(task.engine, task.taskId, 'cancel', key, project)}
            onSettled={onDone}
            onCommand={(command) => setLast({ label: 'Cancel', command })}
          />
        )}
        {show('terminate') && (
          <ActionButton
            label="Terminate"
            icon="times"
            title="Terminate this running task?"
            body={`${label} is running on ${task.worker ?? 'a worker'}. It will be stopped where it is; work it has done is not undone.`}
            confirmText="Terminate"
            variant="destructive"
            run={(key) => runTaskAction(task.engine, task.taskId, 'terminate', key, project)}
            onSettled={onDone}
            onCommand={(command) => setLast({ label: 'Terminate', command })}
          />
        )}
      </Stack>
      {last && <CommandOutcome command={last.command} label={last.label} />}
    </Stack>
  );
}
