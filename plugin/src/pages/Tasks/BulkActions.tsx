// Bulk retry / cancel over the explorer's current filters: preview what would be touched
// (how many, which engines can, a sample), then run it as a job and follow its progress.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Alert, Button, Modal, RadioButtonGroup, Stack, Text, useStyles2 } from '@grafana/ui';
import { cancelBulk, getBulk, newIdempotencyKey, previewBulk, startBulk } from '../../api/service';
import type { BulkAction, BulkJob, BulkPreview } from '../../api/types';
import { Refused } from '../../components/common/PageState';
import { toApiRequestError } from '../../api/client';
import { useGuard } from '../../hooks/useGuard';
import { useInterval } from '../../hooks/useAsync';

interface Props {
  filters: Record<string, string>;
  project?: string;
  onClose: () => void;
}

export function BulkActionsModal({ filters, project, onClose }: Props) {
  const [action, setAction] = useState<BulkAction>('retry');
  const [preview, setPreview] = useState<BulkPreview | null>(null);
  const [job, setJob] = useState<BulkJob | null>(null);
  const [key] = useState(newIdempotencyKey);
  const { busy, error, guard } = useGuard();
  const styles = useStyles2(getStyles);

  // Why the last look at the job's progress failed (the next one tries again).
  const [staleBecause, setStaleBecause] = useState<string | null>(null);

  // The job is "succeeded" once every command is sent; the commands settle after, as the engines
  // confirm them, so the job is followed until none is pending. Closing the dialog unmounts it,
  // which stops the polling. Not through guard: a look is not the user's action, so it neither
  // disables "Stop the job" while a slow service answers, nor calls its failure a refusal.
  useInterval(
    async () => {
      if (!job) {
        return;
      }
      try {
        setJob((await getBulk(job.id, project)).job);
        setStaleBecause(null);
      } catch (e) {
        setStaleBecause(toApiRequestError(e).message);
      }
    },
    job && (job.state === 'running' || job.progress.pending > 0) ? 1000 : null
  );

  const supported = preview ? preview.engines.filter((e) => e.supported).reduce((a, e) => a + e.count, 0) : 0;
  const p = job?.progress;
  const settled = p ? p.succeeded + p.failed + p.skipped : 0;

  return (
    <Modal title="Bulk action on the filtered tasks" isOpen onDismiss={onClose}>
      {!job && (
        <Stack direction="column" gap={2}>
          <RadioButtonGroup<BulkAction>
            aria-label="Bulk action"
            options={[
              { label: 'Retry', value: 'retry' },
              { label: 'Cancel', value: 'cancel' },
            ]}
            value={action}
            onChange={(a) => {
              setAction(a);
              setPreview(null);
            }}
          />
          {!preview && (
            <Button
              onClick={() => guard(async () => setPreview(await previewBulk(action, filters, project)))}
              disabled={busy}
            >
              Preview
            </Button>
          )}
          {preview && (
            <div data-testid="bulk-preview">
              <Text element="p">
                {preview.count} task{preview.count === 1 ? '' : 's'} match
                {preview.overCap ? ` (more than ${preview.maxTasks}: narrow the filters)` : ''}.
              </Text>
              <ul>
                {preview.engines.map((e) => (
                  <li key={e.engine}>
                    {e.engine}: {e.count} {e.supported ? '' : `(${e.engine} cannot ${action}: these are skipped)`}
                  </li>
                ))}
              </ul>
              {preview.sample.length > 0 && (
                <Text element="p" color="secondary">
                  For example:{' '}
                  {preview.sample
                    .slice(0, 5)
                    .map((t) => `${t.name ?? t.taskId} (${t.state})`)
                    .join(', ')}
                </Text>
              )}
              <Modal.ButtonRow>
                <Button variant="secondary" onClick={onClose}>
                  Close
                </Button>
                <Button
                  variant={action === 'cancel' ? 'destructive' : 'primary'}
                  disabled={busy || preview.overCap || supported === 0}
                  onClick={() => guard(async () => setJob((await startBulk(action, filters, key, project)).job))}
                >
                  {action === 'retry' ? 'Retry' : 'Cancel'} {supported} task{supported === 1 ? '' : 's'}
                </Button>
              </Modal.ButtonRow>
            </div>
          )}
        </Stack>
      )}
      {job && p && (
        <div role="status" aria-live="polite" data-testid="bulk-progress">
          <Text element="p">
            Job #{job.id} ({job.action}): {job.state === 'succeeded' && p.pending > 0 ? 'all sent' : job.state}.{' '}
            {p.done} of {job.total} sent — {p.succeeded} succeeded, {p.failed} failed, {p.skipped} skipped, {p.pending}{' '}
            pending.
          </Text>
          <progress max={job.total} value={settled} className={styles.bar} aria-label="Bulk progress" />
          {job.message && <Alert severity="info" title={job.message} />}
          {staleBecause && (
            <Alert severity="warning" title="Could not read the job's progress: trying again">
              {staleBecause}. The job goes on in the service; the figures above are the last ones read.
            </Alert>
          )}
          <Modal.ButtonRow>
            {job.state === 'running' && (
              <Button
                variant="destructive"
                disabled={busy}
                onClick={() => guard(async () => setJob((await cancelBulk(job.id, project)).job))}
              >
                Stop the job
              </Button>
            )}
            <Button variant="secondary" onClick={onClose}>
              Close
            </Button>
          </Modal.ButtonRow>
        </div>
      )}
      <Refused title="The bulk action was refused" error={error} />
    </Modal>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  bar: css({ width: '100%', marginBottom: theme.spacing(1) }),
});
