// Queues: depth per queue, and purge (Admin: a preview that counts what would go, then a
// confirmation bound to that preview) and dead-letter requeue (Operator) where the engine can.
import React, { useState } from 'react';
import { Button, Field, Input, Modal, Stack } from '@grafana/ui';
import { previewPurge, purgeQueue, requeueDeadLetters } from '../../api/service';
import type { Command, PurgePreview, Queue } from '../../api/types';
import { useGuard } from '../../hooks/useGuard';
import { ActionButton, CommandOutcome } from '../../components/common/ActionButton';
import { AppPage } from '../../components/common/AppPage';
import { DataTable } from '../../components/common/DataTable';
import { OnShelf, OutcomeShelf } from '../../components/common/OutcomeShelf';
import { Empty, LoadError, Loading, Refused } from '../../components/common/PageState';
import { useQueues } from '../../data/useQueues';
import { useSession } from '../../hooks/useSession';
import { formatAgo } from '../../utils/format';

function QueuesPage() {
  const { project } = useSession();
  const queues = useQueues(project);
  const rows = queues.value?.queues ?? [];
  return (
    <AppPage>
      {queues.error && <LoadError error={queues.error} what="queues" onRetry={queues.reload} />}
      {queues.loading && !queues.value && <Loading text="Loading queues…" />}
      {queues.value && rows.length === 0 && (
        <Empty message="No queue seen yet">Queues appear with the first task sent to them.</Empty>
      )}
      {rows.length > 0 && (
        <OutcomeShelf>
          <DataTable
            label="Queues"
            rows={rows}
            rowKey={(q) => `${q.engine}/${q.name}`}
            columns={[
              { header: 'Queue', cell: (q) => q.name },
              { header: 'Engine', cell: (q) => q.engine },
              { header: 'Depth', cell: (q) => q.depth ?? '—', numeric: true },
              { header: 'Depth measured', cell: (q) => formatAgo(q.depthAt) },
              { header: 'Last task', cell: (q) => formatAgo(q.lastSeenAt) },
              {
                header: 'Actions',
                hideHeader: true,
                cell: (q) => <QueueActions queue={q} onDone={queues.reload} />,
                sticky: true,
              },
            ]}
          />
        </OutcomeShelf>
      )}
    </AppPage>
  );
}

function QueueActions({ queue, onDone }: { queue: Queue; onDone: () => void }) {
  const { can, allows, project } = useSession();
  return (
    <Stack gap={1}>
      {allows('operator') && can(queue.engine, 'queue.requeue_dead_letters') && (
        <ActionButton
          label="Requeue dead letters"
          icon="history"
          title={`Requeue the dead letters of ${queue.name}?`}
          body="Every failed job kept for this queue is put back on it to run again."
          confirmText="Requeue"
          run={(key) => requeueDeadLetters(queue.engine, queue.name, key, project)}
          onSettled={onDone}
        />
      )}
      {allows('admin') && can(queue.engine, 'queue.purge') && <PurgeButton queue={queue} onDone={onDone} />}
    </Stack>
  );
}

/**
 * Purge in two steps: the preview counts what would go (everything waiting, or only one task's
 * messages where the engine can read them) and returns a token for exactly that purge; the
 * purge then needs the queue's name typed back.
 */
function PurgeButton({ queue, onDone }: { queue: Queue; onDone: () => void }) {
  const { project, can } = useSession();
  const [open, setOpen] = useState(false);
  const [onlyName, setOnlyName] = useState('');
  const [preview, setPreview] = useState<PurgePreview | null>(null);
  const [typed, setTyped] = useState('');
  const [command, setCommand] = useState<Command | null>(null);
  const { busy, error, clearError, guard } = useGuard();
  const filterable = can(queue.engine, 'queue.purge_filtered');
  const filter = onlyName.trim() ? { name: onlyName.trim() } : undefined;
  const close = () => {
    clearError();
    setOpen(false);
    setPreview(null);
    setTyped('');
  };
  const what = preview
    ? `${preview.complete === false ? 'At least ' : ''}${preview.depth ?? 'An unknown number of'} message${preview.depth === 1 ? '' : 's'}${
        preview.filter ? ` of ${preview.filter.name}` : ''
      } waiting in ${queue.engine} queue ${queue.name} will be deleted and never run. This cannot be undone.`
    : '';
  return (
    <>
      <Button size="sm" variant="destructive" icon="trash-alt" disabled={busy} onClick={() => setOpen(true)}>
        Purge…
      </Button>
      {open && (
        <Modal title={`Purge ${queue.name}`} isOpen onDismiss={close}>
          {/* A refused preview is said here, where the user is looking, not behind the modal. */}
          <Refused title="Preview was refused" error={error} onRemove={clearError} />
          {!preview ? (
            <>
              {filterable && (
                <Field label="Only tasks named" description="Leave empty to purge every waiting message.">
                  <Input
                    id="purge-only-name"
                    value={onlyName}
                    placeholder="billing.charge"
                    onChange={(e) => setOnlyName(e.currentTarget.value)}
                  />
                </Field>
              )}
              <Modal.ButtonRow>
                <Button variant="secondary" onClick={close}>
                  Cancel
                </Button>
                <Button
                  disabled={busy}
                  onClick={() =>
                    guard(async () => setPreview(await previewPurge(queue.engine, queue.name, project, filter)))
                  }
                >
                  Preview
                </Button>
              </Modal.ButtonRow>
            </>
          ) : preview.depth === 0 && preview.complete !== false ? (
            // Nothing to delete: no confirmation to type for it, and no command to send.
            <>
              <p data-testid="purge-preview">
                No message{preview.filter ? ` of ${preview.filter.name}` : ''}
                {preview.unreadable ? ' that z4j can read' : ''} is waiting in {queue.engine} queue {queue.name}: there
                is nothing to purge.
              </p>
              <Unreadable preview={preview} />
              <Modal.ButtonRow>
                <Button variant="secondary" onClick={() => setPreview(null)}>
                  Back
                </Button>
                <Button onClick={close}>Close</Button>
              </Modal.ButtonRow>
            </>
          ) : (
            <>
              <p data-testid="purge-preview">{what}</p>
              <Unreadable preview={preview} />
              <Field label={`Type ${queue.name} to confirm`}>
                <Input id="purge-confirm" value={typed} onChange={(e) => setTyped(e.currentTarget.value)} />
              </Field>
              <Modal.ButtonRow>
                <Button variant="secondary" onClick={close}>
                  Cancel
                </Button>
                <Button
                  variant="destructive"
                  disabled={busy || typed !== queue.name}
                  onClick={() =>
                    guard(async () => {
                      const { token, filter: bound } = preview;
                      close();
                      setCommand((await purgeQueue(queue.engine, queue.name, token, project, bound)).command);
                      onDone();
                    })
                  }
                >
                  Purge
                </Button>
              </Modal.ButtonRow>
            </>
          )}
        </Modal>
      )}
      <OnShelf>
        {command && <CommandOutcome command={command} label="Purge" />}
        {!open && <Refused title="Purge was refused" error={error} onRemove={clearError} />}
      </OnShelf>
    </>
  );
}

/** A filtered preview's messages whose task name z4j could not read: never matched, so kept, and said so. */
function Unreadable({ preview }: { preview: PurgePreview }) {
  const n = preview.unreadable ?? 0;
  if (!preview.filter || n === 0) {
    return null;
  }
  return (
    <p data-testid="purge-unreadable">
      {n} waiting message{n === 1 ? '' : 's'} could not be read (a format z4j does not read, such as a serializer of
      your own) and will be kept, whatever task {n === 1 ? 'it runs' : 'they run'}.
    </p>
  );
}

export default QueuesPage;
