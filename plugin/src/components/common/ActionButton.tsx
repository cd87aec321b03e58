// One action on one thing: a button, a confirmation that says exactly what will happen, then
// the command's outcome followed until it settles. The Idempotency-Key is made when the
// dialog opens, so a double click or a retried request runs the action once.
import React, { useState } from 'react';
import { Alert, Button, ConfirmModal, TextLink, Tooltip, type IconName } from '@grafana/ui';
import { getCommand, newIdempotencyKey } from '../../api/service';
import type { Command } from '../../api/types';
import { toApiRequestError } from '../../api/client';
import { useInterval } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { taskUrl } from '../../constants';

const SETTLED = new Set(['succeeded', 'failed', 'timed_out']);

export interface ActionButtonProps {
  label: string;
  icon?: IconName;
  variant?: 'primary' | 'secondary' | 'destructive';
  title: string;
  body: React.ReactNode;
  confirmText: string;
  run: (idempotencyKey: string) => Promise<{ command: Command }>;
  onSettled?: (command: Command) => void;
  /** Set when the action cannot run now: the button is disabled and says why. */
  disabledReason?: string;
}

export function ActionButton({
  label,
  icon,
  variant = 'secondary',
  title,
  body,
  confirmText,
  run,
  onSettled,
  disabledReason,
}: ActionButtonProps) {
  const { project } = useSession();
  const [key, setKey] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [command, setCommand] = useState<Command | null>(null);
  const [error, setError] = useState<string | null>(null);

  const confirm = async () => {
    if (!key) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { command } = await run(key);
      setCommand(command);
      if (SETTLED.has(command.state)) {
        onSettled?.(command);
      }
    } catch (e) {
      setError(toApiRequestError(e).message);
    } finally {
      setBusy(false);
      setKey(null);
    }
  };

  const following = command !== null && !SETTLED.has(command.state);
  useInterval(
    async () => {
      if (!command) {
        return;
      }
      try {
        const next = (await getCommand(command.id, project)).command;
        setCommand(next);
        if (SETTLED.has(next.state)) {
          onSettled?.(next);
        }
      } catch {
        /* keep the last known state; the next tick tries again */
      }
    },
    following ? 1000 : null
  );

  return (
    <>
      <MaybeTooltip content={disabledReason}>
        <Button
          variant={variant}
          icon={icon}
          size="sm"
          disabled={busy || following || disabledReason !== undefined}
          onClick={() => setKey(newIdempotencyKey())}
        >
          {label}
        </Button>
      </MaybeTooltip>
      <ConfirmModal
        isOpen={key !== null}
        title={title}
        body={body}
        confirmText={confirmText}
        confirmVariant={variant === 'destructive' ? 'destructive' : 'primary'}
        onConfirm={confirm}
        onDismiss={() => setKey(null)}
      />
      {command && <CommandOutcome command={command} label={label} />}
      {error && (
        <Alert severity="error" title={`${label} was refused`} onRemove={() => setError(null)}>
          {error}
        </Alert>
      )}
    </>
  );
}

export function CommandOutcome({ command, label }: { command: Command; label: string }) {
  const message = typeof command.outcome?.message === 'string' ? command.outcome.message : undefined;
  const severity =
    command.state === 'succeeded'
      ? 'success'
      : command.state === 'pending' || command.state === 'dispatched'
        ? 'info'
        : 'error';
  const newTask = typeof command.outcome?.newTaskId === 'string' ? command.outcome.newTaskId : undefined;
  return (
    <Alert severity={severity} title={`${label}: ${command.state}`}>
      {message}
      {newTask && (
        <div>
          New task: <TextLink href={taskUrl(command.engine, newTask)}>{newTask}</TextLink>
        </div>
      )}
      <div>
        Command #{command.id}, requested by {command.requestedBy}
      </div>
    </Alert>
  );
}

/** A disabled button says why on hover and focus (its wrapper takes the pointer events). */
function MaybeTooltip({ content, children }: { content?: string; children: React.ReactElement }) {
  return content ? (
    <Tooltip content={content}>
      <span tabIndex={0}>{children}</span>
    </Tooltip>
  ) : (
    children
  );
}
