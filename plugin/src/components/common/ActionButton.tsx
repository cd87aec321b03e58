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
import { inProject, taskUrl } from '../../constants';
import { OnShelf } from './OutcomeShelf';
import { confirmVariantOf } from './confirmVariant';

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
  /**
   * Receives the command and each update of it. When set, the caller shows the outcome (so it
   * can outlive this button, which may go once the action has changed its target's state).
   */
  onCommand?: (command: Command) => void;
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
  onCommand,
  disabledReason,
}: ActionButtonProps) {
  const { project } = useSession();
  const [key, setKey] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [command, setCurrentCommand] = useState<Command | null>(null);
  const [error, setError] = useState<string | null>(null);
  const setCommand = (next: Command) => {
    setCurrentCommand(next);
    onCommand?.(next);
  };

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
        {...confirmVariantOf(variant === 'destructive' ? 'destructive' : 'primary')}
        onConfirm={confirm}
        onDismiss={() => setKey(null)}
      />
      <OnShelf>
        {command && !onCommand && <CommandOutcome command={command} label={label} />}
        {error && (
          <Alert severity="error" title={`${label} was refused`} onRemove={() => setError(null)}>
            {error}
          </Alert>
        )}
      </OnShelf>
    </>
  );
}

export function CommandOutcome({ command, label }: { command: Command; label: string }) {
  const { project } = useSession();
  const severity =
    command.state === 'succeeded'
      ? 'success'
      : command.state === 'pending' || command.state === 'dispatched'
        ? 'info'
        : 'error';
  const newTask = typeof command.outcome?.newTaskId === 'string' ? command.outcome.newTaskId : undefined;
  return (
    <Alert severity={severity} title={`${label}: ${command.state}`}>
      {outcomeLines(command.outcome).map((line) => (
        <div key={line}>{line}</div>
      ))}
      {newTask && (
        <div>
          New task: <TextLink href={inProject(taskUrl(command.engine, newTask), project)}>{newTask}</TextLink>
        </div>
      )}
      <div>
        Command #{command.id}, requested by {command.requestedBy}
      </div>
    </Alert>
  );
}

/** What the outcome says in words: the engine's message and the counts of a purge or requeue. */
function outcomeLines(outcome: Command['outcome']): string[] {
  const lines: string[] = [];
  if (typeof outcome?.message === 'string') {
    lines.push(outcome.message);
  }
  if (typeof outcome?.purged === 'number') {
    lines.push(`Purged ${messages(outcome.purged)}`);
  }
  if (typeof outcome?.revoked === 'number') {
    lines.push(`${outcome.revoked} task${outcome.revoked === 1 ? '' : 's'} marked revoked`);
  }
  if (typeof outcome?.requeued === 'number') {
    lines.push(`Requeued ${messages(outcome.requeued)}`);
  }
  return lines;
}

const messages = (n: number) => `${n} message${n === 1 ? '' : 's'}`;

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
