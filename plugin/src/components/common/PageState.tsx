// The loading, error and empty states every page shows the same way, each saying what to do.
import React from 'react';
import { Alert, Box, Button, EmptyState, LoadingPlaceholder } from '@grafana/ui';
import type { ApiRequestError } from '../../api/client';
import type { AsyncState } from '../../hooks/useAsync';

export function Loading({ text = 'Loading…' }: { text?: string }) {
  return <LoadingPlaceholder text={text} />;
}

export function LoadError({ error, onRetry, what }: { error: ApiRequestError; onRetry?: () => void; what: string }) {
  const hint =
    error.status === 403
      ? 'Your role in this project does not allow this. Ask a project Admin for access.'
      : error.status === 401
        ? 'Grafana did not vouch for you to the z4j service. Check the app configuration (secret, Grafana URL).'
        : error.status === 404
          ? 'It may have been deleted, or the link is wrong.'
          : 'Check that the z4j service is running and the app is configured (Administration → Plugins → z4j).';
  return (
    <Alert severity="error" title={`Could not load ${what}`}>
      <div>{error.message}</div>
      <div>{hint}</div>
      {onRetry && (
        <Box marginTop={1}>
          <Button size="sm" variant="secondary" icon="sync" onClick={onRetry}>
            Try again
          </Button>
        </Box>
      )}
    </Alert>
  );
}

export function Empty({
  message,
  children,
  variant = 'not-found',
}: {
  message: string;
  children?: React.ReactNode;
  /** "call-to-action" where the list is empty until someone makes the first one. */
  variant?: 'not-found' | 'call-to-action';
}) {
  return (
    <EmptyState variant={variant} message={message}>
      {children}
    </EmptyState>
  );
}

/**
 * What to show while `state` has no value yet (loading, or why it could not be read), or null
 * once it has one. A failed reload keeps its value: show it under <ReloadFailed>.
 */
export function pendingState<T>(state: AsyncState<T>, what: string): React.ReactElement | null {
  if (state.value !== undefined) {
    return null;
  }
  return state.error ? <LoadError error={state.error} what={what} onRetry={state.reload} /> : <Loading />;
}

/**
 * Why reading `state` again failed (after a change, or Try again), said above the rows it keeps
 * on screen, as the tasks page and the workflow graph do: the rows and a form being filled stay.
 */
export function ReloadFailed<T>({ state, what }: { state: AsyncState<T>; what: string }) {
  return state.error && state.value !== undefined ? (
    <LoadError error={state.error} what={what} onRetry={state.reload} />
  ) : null;
}

/** Why a write was refused, next to the form that sent it (useGuard's error). */
export function Refused({ title, error, onRemove }: { title: string; error: string | null; onRemove?: () => void }) {
  return error ? (
    <Alert severity="error" title={title} onRemove={onRemove}>
      {error}
    </Alert>
  ) : null;
}
