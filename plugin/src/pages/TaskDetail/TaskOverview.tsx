import React, { useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Alert, ClipboardButton, Stack, Text, TextLink, useStyles2 } from '@grafana/ui';
import type { TaskDetail, WorkerGone } from '../../api/types';
import { StateBadge } from '../../components/common/StateBadge';
import { inProject, taskUrl } from '../../constants';
import { useInterval } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { between, formatDuration, formatTime } from '../../utils/format';

/** When the task's newest enqueue says it expires (Celery's and arq's expires, an RQ job's ttl), else null. */
function expiresAt(events: TaskDetail['events']): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const ev = events[i]!;
    if (ev.kind === 'enqueued') {
      const expires = ev.fields?.expires;
      return typeof expires === 'string' && !Number.isNaN(Date.parse(expires)) ? expires : null;
    }
  }
  return null;
}

/**
 * What an event says of why it happened: z4j's mark of a task that expired or was purged while it waited, or
 * the reason of an event z4j made (a retry's or a schedule's enqueue, a cancel's revoke); and
 * whether the engine stopped the task at its time limit (the agent's `timedOut`); null when it
 * says nothing.
 */
function eventNote(ev: TaskDetail['events'][number]): string | null {
  const mark = markReason(ev);
  const why = mark ? `marked by z4j: ${mark}` : typeof ev.fields?.reason === 'string' ? ev.fields.reason : null;
  const timedOut = ev.fields?.timedOut === true ? 'timed out: stopped at its time limit' : null;
  return [why, timedOut].filter(Boolean).join(' · ') || null;
}

/**
 * Why z4j marked a waiting task (its event says), or null for a worker's report: expired, past
 * its expiry; revoked, after a purge the broker only counted (RabbitMQ). A worker's report wins.
 */
function markReason(ev: TaskDetail['events'][number]): string | null {
  const reason = typeof ev.fields?.reason === 'string' ? ev.fields.reason : null;
  if (ev.fields?.markedBy !== 'z4j') {
    return null;
  }
  if (ev.kind === 'expired') {
    return reason ?? 'its expiry passed while it waited';
  }
  return ev.kind === 'revoked' && ev.fields.inferred === true
    ? (reason ?? 'purged while it waited in its queue')
    : null;
}

/**
 * A task still in the hands of a worker that is gone: nothing will end it there, nor say so. A
 * worker killed outright (an OOM kill, SIGKILL, a lost host) sends no offline event; z4j tells it
 * from its missing heartbeats.
 */
function WorkerGoneNotice({ gone, started }: { gone: WorkerGone; started: boolean }) {
  const when = gone.offlineAt
    ? `went offline at ${formatTime(gone.offlineAt)}`
    : `has not been heard from since ${formatTime(gone.lastSeenAt)}`;
  return (
    <Alert severity="warning" title="Its worker is gone" role="status" aria-label="Its worker is gone">
      {started
        ? `Worker ${gone.hostname} ${when} while this task ran, and the task never reported an end: it was most likely lost with it. Retry it to run it again.`
        : `Worker ${gone.hostname} ${when} after taking this task from its queue, before starting it. Where the broker gives unacknowledged messages back, another worker will take it; otherwise it was lost.`}
    </Alert>
  );
}

export function TaskOverview({ detail }: { detail: TaskDetail }) {
  const styles = useStyles2(getStyles);
  const { task, events } = detail;
  // A Celery retry's own task-sent names the task as its parent: not a child of its own.
  const children = detail.children.filter((c) => c.taskId !== task.taskId);
  // The exception of a task that did not end failed is an earlier attempt's (it was retried since).
  const earlierException = task.state !== 'failed';
  const { project } = useSession();
  const link = (id: string) => <TextLink href={inProject(taskUrl(task.engine, id), project)}>{id}</TextLink>;
  const facts: Array<[string, React.ReactNode]> = [
    ['Engine', task.engine],
    ['Queue', task.queue ?? '—'],
    ['Worker', task.worker ?? '—'],
    ['Retries', task.retries ?? 0],
    ['Sent', formatTime(task.sentAt)],
    ['Received', formatTime(task.receivedAt)],
    ['Started', formatTime(task.startedAt)],
    ['Finished', formatTime(task.finishedAt)],
    ['Wait', formatDuration(task.waitMs)],
    ['Runtime', formatDuration(task.runtimeMs)],
  ];
  const expires = expiresAt(events);
  const [now, setNow] = useState(() => Date.now()); // the clock, read while a waiting task has an expiry to pass
  useInterval(() => setNow(Date.now()), expires && task.state === 'enqueued' ? 5000 : null);
  if (expires) {
    facts.push(['Expires', formatTime(expires)]);
  }
  // No engine runs a task past its expiry; RQ even deletes the job without a word to anyone, so
  // its last event stays "enqueued" until the service marks it expired (a minute or so later).
  const markedExpired = task.state === 'expired' && events.some((e) => e.kind === 'expired' && markReason(e) !== null);
  const expiredWaiting =
    expires !== null && ((task.state === 'enqueued' && Date.parse(expires) < now) || markedExpired);
  const relatives: Array<[string, React.ReactNode]> = [];
  if (task.rootId && task.rootId !== task.taskId) {
    relatives.push(['Root', link(task.rootId)]);
  }
  if (task.parentId && task.parentId !== task.taskId) {
    relatives.push(['Parent', link(task.parentId)]);
  }
  if (task.groupId) {
    relatives.push(['Group', <span key="g">{task.groupId}</span>]);
  }
  if (task.retryOf) {
    relatives.push(['Retry of', link(task.retryOf)]);
  }
  if (task.retriedAs.length) {
    relatives.push([
      'Retried as',
      <span key="r">
        {task.retriedAs.map((id, i) => (
          <span key={id}>
            {i > 0 && ', '}
            {link(id)}
          </span>
        ))}
      </span>,
    ]);
  }

  return (
    <div className={styles.grid}>
      {task.workerGone && <WorkerGoneNotice gone={task.workerGone} started={task.state === 'started'} />}
      {expiredWaiting && (
        <Alert severity="warning" title="Expired while waiting" role="status" aria-label="Expired while waiting">
          No worker took it before its time to live ended ({formatTime(expires)}): it will not run. Retry it to send it
          again.
        </Alert>
      )}
      <section aria-label="Summary">
        <dl className={styles.facts}>
          {[...facts, ...relatives].map(([k, v]) => (
            <React.Fragment key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </React.Fragment>
          ))}
        </dl>
      </section>

      {/* The sections' headings are level 2, under the task's name (the page's h1), at the size of an h3. */}
      {task.exception && (
        <section aria-label="Exception" className={styles.section}>
          <Stack justifyContent="space-between" alignItems="center">
            <Text element="h2" variant="h3">
              {earlierException ? 'Exception of an earlier attempt' : 'Exception'}
            </Text>
            <ClipboardButton
              size="sm"
              icon="copy"
              variant="secondary"
              getText={() => [task.exception, task.traceback].filter(Boolean).join('\n\n')}
            >
              Copy
            </ClipboardButton>
          </Stack>
          <pre className={earlierException ? styles.pre : styles.error}>{task.exception}</pre>
          {task.traceback && <pre className={styles.pre}>{task.traceback}</pre>}
        </section>
      )}

      <section aria-label="Arguments" className={styles.section}>
        <Text element="h2" variant="h3">
          Arguments and result
        </Text>
        <Text color="secondary" element="p">
          Secrets were redacted before anything was stored.
        </Text>
        <JsonBlock title="args" value={task.args} />
        <JsonBlock title="kwargs" value={task.kwargs} />
        <JsonBlock title="result" value={task.result} />
      </section>

      <section aria-label="Timeline" className={styles.section}>
        <Text element="h2" variant="h3">
          Timeline
        </Text>
        <ol className={styles.timeline}>
          {events.map((e, i) => {
            const gap = i > 0 ? between(events[i - 1]!.occurredAt, e.occurredAt) : null;
            return (
              <li key={e.id}>
                <StateBadge state={e.kind} /> <span className={styles.time}>{formatTime(e.occurredAt)}</span>
                {gap !== null && <span className={styles.gap}> +{formatDuration(gap)}</span>}
                {e.worker && <span className={styles.gap}> on {e.worker}</span>}
                {eventNote(e) && <span className={styles.gap}> · {eventNote(e)}</span>}
              </li>
            );
          })}
        </ol>
      </section>

      {children.length > 0 && (
        <section aria-label="Children" className={styles.section}>
          <Text element="h2" variant="h3">
            Children
          </Text>
          <ul>
            {children.map((c) => (
              <li key={c.taskId}>
                <StateBadge state={c.state} />{' '}
                <TextLink href={inProject(taskUrl(c.engine, c.taskId), project)}>{c.name ?? c.taskId}</TextLink>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function JsonBlock({ title, value }: { title: string; value: unknown }) {
  const styles = useStyles2(getStyles);
  if (value === null || value === undefined) {
    return null;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return (
    <div>
      <Stack justifyContent="space-between" alignItems="center">
        <Text weight="medium">{title}</Text>
        <ClipboardButton size="sm" fill="text" icon="copy" getText={() => text}>
          Copy
        </ClipboardButton>
      </Stack>
      <pre className={styles.pre} data-testid={`json-${title}`}>
        {text}
      </pre>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  grid: css({
    display: 'grid',
    gap: theme.spacing(3),
    gridTemplateColumns: 'minmax(0, 1fr)',
    marginTop: theme.spacing(2),
  }),
  section: css({ minWidth: 0 }),
  facts: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr max-content 1fr',
    gap: theme.spacing(0.5, 2),
    dt: { color: theme.colors.text.secondary },
    dd: { margin: 0, overflowWrap: 'anywhere' },
  }),
  pre: css({ maxHeight: 400, overflow: 'auto', whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }),
  error: css({ color: theme.colors.error.text, whiteSpace: 'pre-wrap' }),
  timeline: css({ listStyle: 'none', padding: 0, li: { padding: theme.spacing(0.5, 0) } }),
  time: css({ fontVariantNumeric: 'tabular-nums' }),
  gap: css({ color: theme.colors.text.secondary }),
});
