import { screen, waitFor, within } from '@testing-library/react';
import { SERVICE_API_URL } from '../../api/client';
import type { Command, Task, TaskEvent } from '../../api/types';
import { taskUrl } from '../../constants';
import { hangRequests, reply } from '../../test/backend';
import { ALL_TASKS, detail, fakeService, task } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';
import { location } from '../../test/render';

beforeEach(() => window.localStorage.clear());

/** A Viewer's service that lists `t` and answers its detail with `events` as its timeline. */
function serveTask(t: Task, events: TaskEvent[]) {
  const backend = fakeService('viewer', [...ALL_TASKS, t]);
  const shown = detail(t);
  shown.events = events;
  backend.routes[`GET ${SERVICE_API_URL}/tasks/${t.engine}/${t.taskId}`] = () => reply(shown);
}

describe('a task in a project other than the default', () => {
  test("links to its relatives stay in the task's project", async () => {
    fakeService('viewer');
    renderApp('/tasks/celery/c-3?project=ops');

    const summary = await screen.findByRole('region', { name: 'Summary' }, PAGE_LOAD);
    expect(within(summary).getByRole('link', { name: 'c-1' })).toHaveAttribute(
      'href',
      `${taskUrl('celery', 'c-1')}?project=ops`
    );
    expect(within(summary).getByRole('link', { name: 'c-2' })).toHaveAttribute(
      'href',
      `${taskUrl('celery', 'c-2')}?project=ops`
    );
  });

  test('the task a retry made is linked in the same project', async () => {
    const backend = fakeService('operator');
    const retry = `POST ${SERVICE_API_URL}/tasks/celery/f-1/actions/retry`;
    backend.routes[`${retry}?project=ops`] = backend.routes[retry]!;
    const { user } = renderApp('/tasks/celery/f-1?project=ops');

    await user.click(await screen.findByRole('button', { name: 'Retry' }, PAGE_LOAD));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Retry' }));

    const status = await screen.findByRole('status', { name: 'Retry: succeeded' });
    expect(within(status).getByRole('link', { name: 'r-1' })).toHaveAttribute(
      'href',
      `${taskUrl('celery', 'r-1')}?project=ops`
    );
  });
});

describe('cancelling a waiting task', () => {
  test('the outcome stays in view after the task reloads without its Cancel button', async () => {
    fakeService('operator', [...ALL_TASKS, task({ taskId: 'q-1', name: 'mail.send', state: 'received' })]);
    const { user } = renderApp('/tasks/celery/q-1');

    await user.click(await screen.findByRole('button', { name: 'Cancel' }, PAGE_LOAD));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Cancel the task' }));

    await waitFor(() => expect(screen.queryByRole('button', { name: 'Cancel' })).not.toBeInTheDocument());
    expect(screen.getAllByText('revoked').length).toBeGreaterThan(0);
    expect(screen.getByRole('status', { name: 'Cancel: succeeded' })).toHaveTextContent(
      'cancel confirmed by the broker'
    );
  });
});

describe('a retry the engine has not confirmed yet', () => {
  test('is asked about once at a time: while the service has not answered, no other ask is sent', async () => {
    const backend = fakeService('operator');
    const dispatched: Command = {
      id: 1,
      kind: 'task.retry',
      engine: 'celery',
      target: 'f-1',
      args: {},
      state: 'dispatched',
      outcome: null,
      requestedBy: 'operator-user',
      createdAt: '2026-11-29T12:00:05.000Z',
      updatedAt: '2026-11-29T12:00:05.000Z',
    };
    backend.routes[`POST ${SERVICE_API_URL}/tasks/celery/f-1/actions/retry`] = () =>
      reply({ command: dispatched }, 202);
    const asks = hangRequests((r) => r.url === `${SERVICE_API_URL}/commands/1`);
    const { user } = renderApp('/tasks/celery/f-1');
    await user.click(await screen.findByRole('button', { name: 'Retry' }, PAGE_LOAD));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Retry' }));

    expect(await screen.findByRole('status', { name: 'Retry: dispatched' })).toBeInTheDocument();
    await waitFor(() => expect(asks.sent).toBe(1), { timeout: 3000 });
    await new Promise((r) => setTimeout(r, 3500)); // three more seconds of polling
    expect(asks.sent).toBe(1);
  }, 15_000);
});

describe('following a link to another task', () => {
  test('that cannot be loaded says so, and neither shows nor acts on the task before it', async () => {
    const backend = fakeService('operator');
    const { user } = renderApp('/tasks/celery/f-1');
    await user.click(await screen.findByRole('button', { name: 'Retry' }, PAGE_LOAD));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Retry' }));
    // The new task is not known to z4j yet: its page answers 404.
    const status = await screen.findByRole('status', { name: 'Retry: succeeded' });
    await user.click(within(status).getByRole('link', { name: 'r-1' }));

    await waitFor(() => expect(location.current).toBe(taskUrl('celery', 'r-1')));
    expect(await screen.findByText('Could not load task r-1')).toBeInTheDocument();
    expect(screen.queryByText(/card declined/)).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /retry|cancel|terminate/i })).not.toBeInTheDocument();
    expect(backend.commands).toHaveLength(1);
  });
});

describe('a task whose time to live passed while it waited', () => {
  test('says it will not run, and when it expired', async () => {
    serveTask(task({ taskId: 'ttl-1', engine: 'rq', name: 'mail.send', state: 'enqueued' }), [
      {
        id: 'e1',
        kind: 'enqueued',
        occurredAt: '2026-11-30T10:00:00.000Z',
        worker: null,
        fields: { expires: '2026-11-30T10:05:00.000Z' },
      },
    ]);
    renderApp('/tasks/rq/ttl-1');

    const notice = await screen.findByRole('status', { name: 'Expired while waiting' }, PAGE_LOAD);
    expect(notice).toHaveTextContent('No worker took it before its time to live ended');
    const summary = screen.getByRole('region', { name: 'Summary' });
    expect(within(summary).getByText('Expires')).toBeInTheDocument();
  });

  test('one z4j marked expired says so in its timeline, and still says it will not run', async () => {
    const expires = '2026-11-30T10:05:00.000Z';
    serveTask(task({ taskId: 'ttl-3', engine: 'rq', state: 'expired' }), [
      { id: 'e1', kind: 'enqueued', occurredAt: '2026-11-30T10:00:00.000Z', worker: null, fields: { expires } },
      {
        id: 'z4j-expired.7.0',
        kind: 'expired',
        occurredAt: expires,
        worker: null,
        fields: { retries: 0, expires, markedBy: 'z4j', reason: 'its expiry passed while it waited' },
      },
    ]);
    renderApp('/tasks/rq/ttl-3');

    expect(await screen.findByRole('status', { name: 'Expired while waiting' }, PAGE_LOAD)).toBeInTheDocument();
    const timeline = screen.getByRole('region', { name: 'Timeline' });
    expect(within(timeline).getByText(/marked by z4j: its expiry passed while it waited/)).toBeInTheDocument();
  });

  test("one z4j marked revoked after a RabbitMQ purge says so in its timeline; a result backend's revoke does not", async () => {
    serveTask(task({ taskId: 'purged-1', engine: 'celery', state: 'revoked' }), [
      { id: 'e1', kind: 'enqueued', occurredAt: '2026-11-30T10:00:00.000Z', worker: null, fields: { queue: 'mail' } },
      {
        id: 'z4j-command-4-revoked-0',
        kind: 'revoked',
        occurredAt: '2026-11-30T10:01:00.000Z',
        worker: null,
        fields: {
          queue: 'mail',
          retries: 0,
          markedBy: 'z4j',
          inferred: true,
          reason:
            'purged by ada (the broker counted 2 messages removed, not which; this task was waiting in the queue)',
        },
      },
      {
        id: 'r1',
        kind: 'revoked',
        occurredAt: '2026-11-30T10:02:00.000Z',
        worker: null,
        fields: { markedBy: 'z4j', reason: 'read from the result backend' },
      },
    ]);
    renderApp('/tasks/celery/purged-1');

    const timeline = await screen.findByRole('region', { name: 'Timeline' }, PAGE_LOAD);
    expect(
      within(timeline).getByText(/marked by z4j: purged by ada \(the broker counted 2 messages removed/)
    ).toBeInTheDocument();
    expect(within(timeline).getByText(/read from the result backend/).textContent).not.toMatch(/marked by z4j/);
  });

  test('a task z4j sent says why in its timeline (a schedule, a retry)', async () => {
    serveTask(task({ taskId: 'sch-1', engine: 'celery', state: 'succeeded' }), [
      {
        id: 'z4j-command-9-enqueued',
        kind: 'enqueued',
        occurredAt: '2026-11-30T02:30:00.000Z',
        worker: null,
        fields: { reason: 'schedule Close the day (cron)' },
      },
      { id: 'e2', kind: 'succeeded', occurredAt: '2026-11-30T02:30:01.000Z', worker: 'w1', fields: {} },
    ]);
    renderApp('/tasks/celery/sch-1');

    const timeline = await screen.findByRole('region', { name: 'Timeline' }, PAGE_LOAD);
    expect(within(timeline).getByText(/schedule Close the day \(cron\)/)).toBeInTheDocument();
  });

  test('a task its engine stopped at its time limit says so in its timeline', async () => {
    serveTask(
      task({
        taskId: 'slow-1',
        engine: 'rq',
        state: 'failed',
        exception: 'JobTimeoutException: Task exceeded maximum timeout value (1 seconds)',
      }),
      [
        { id: 'e1', kind: 'started', occurredAt: '2026-11-30T02:30:00.000Z', worker: 'w1', fields: {} },
        {
          id: 'e2',
          kind: 'failed',
          occurredAt: '2026-11-30T02:30:01.000Z',
          worker: 'w1',
          fields: { timedOut: true, runtime: 1.01 },
        },
      ]
    );
    renderApp('/tasks/rq/slow-1');

    const timeline = await screen.findByRole('region', { name: 'Timeline' }, PAGE_LOAD);
    const failed = within(timeline).getAllByRole('listitem')[1]!;
    expect(failed).toHaveTextContent(/timed out: stopped at its time limit/);
    expect(within(timeline).getAllByRole('listitem')[0]).not.toHaveTextContent(/timed out/);
  });

  test('a waiting task whose time to live has not ended says nothing of it', async () => {
    serveTask(task({ taskId: 'ttl-2', engine: 'rq', state: 'enqueued' }), [
      {
        id: 'e1',
        kind: 'enqueued',
        occurredAt: new Date().toISOString(),
        worker: null,
        fields: { expires: new Date(Date.now() + 3_600_000).toISOString() },
      },
    ]);
    renderApp('/tasks/rq/ttl-2');

    await screen.findByRole('region', { name: 'Summary' }, PAGE_LOAD);
    expect(screen.queryByRole('status', { name: 'Expired while waiting' })).not.toBeInTheDocument();
  });
});

describe('who acted on a task', () => {
  test('an Admin has a link to the audit entries of this task, in its project', async () => {
    fakeService('admin');
    renderApp('/tasks/celery/f-1?project=ops');
    const link = await screen.findByRole('link', { name: 'Who acted on it' }, PAGE_LOAD);
    expect(link).toHaveAttribute('href', expect.stringContaining('/audit?target=celery%2Ff-1&project=ops'));
  });

  test("an Admin following it from a task first seen a month ago is shown the log since then, not only the last week's", async () => {
    const firstSeenAt = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const backend = fakeService('admin', [
      task({ taskId: 'old-1', state: 'failed', firstSeenAt, sentAt: firstSeenAt }),
    ]);
    const { user } = renderApp('/tasks/celery/old-1');
    await user.click(await screen.findByRole('link', { name: 'Who acted on it' }, PAGE_LOAD));

    await screen.findByRole('table', { name: 'Audit log' }, PAGE_LOAD);
    const asked = backend.requests.filter((r) => r.url.endsWith('/api/audit')).at(-1)!.params as Record<
      string,
      unknown
    >;
    expect(asked.target).toBe('celery/old-1');
    expect(Number(asked.from)).toBeLessThanOrEqual(Date.parse(firstSeenAt));
  });

  test('an Operator, who may not read the audit log, is not offered it', async () => {
    fakeService('operator');
    renderApp('/tasks/celery/f-1');
    await screen.findByRole('button', { name: 'Retry' }, PAGE_LOAD);
    expect(screen.queryByRole('link', { name: 'Who acted on it' })).not.toBeInTheDocument();
  });
});

describe('a task whose worker is gone while the task is in its hands', () => {
  /** An Operator's service whose detail of `t` says its worker is gone. */
  function serveGone(t: Task, gone: { lastSeenAt: string; offlineAt: string | null }) {
    const backend = fakeService('operator', [...ALL_TASKS, t]);
    const shown = detail(t);
    shown.task.workerGone = { hostname: t.worker!, ...gone };
    backend.routes[`GET ${SERVICE_API_URL}/tasks/${t.engine}/${t.taskId}`] = () => reply(shown);
    return backend;
  }

  test('a started one says it was most likely lost with it, and offers a retry instead of a terminate', async () => {
    const backend = serveGone(task({ taskId: 'lost-1', name: 'report.build', state: 'started', finishedAt: null }), {
      lastSeenAt: '2026-11-30T10:00:00.000Z',
      offlineAt: null,
    });
    const { user } = renderApp('/tasks/celery/lost-1');

    const notice = await screen.findByRole('status', { name: 'Its worker is gone' }, PAGE_LOAD);
    expect(notice).toHaveTextContent(/Worker celery@w1 has not been heard from since .* while this task ran/);
    expect(notice).toHaveTextContent('most likely lost with it');
    expect(screen.queryByRole('button', { name: 'Terminate' })).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Retry' }));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('its worker celery@w1 is gone');
    expect(dialog).toHaveTextContent('the engine may run the original again as well');
    await user.click(within(dialog).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByRole('status', { name: 'Retry: succeeded' })).toBeInTheDocument();
    expect(backend.commands.map((c) => [c.kind, c.target])).toEqual([['task.retry', 'lost-1']]);
  });

  test('a received one says another worker may take it, and is not offered a retry', async () => {
    serveGone(task({ taskId: 'taken-1', name: 'mail.send', state: 'received', startedAt: null, finishedAt: null }), {
      lastSeenAt: '2026-11-30T10:00:00.000Z',
      offlineAt: '2026-11-30T10:00:01.000Z',
    });
    renderApp('/tasks/celery/taken-1');

    const notice = await screen.findByRole('status', { name: 'Its worker is gone' }, PAGE_LOAD);
    expect(notice).toHaveTextContent(/Worker celery@w1 went offline at .* before starting it/);
    expect(screen.getByRole('button', { name: 'Cancel' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });

  test('a started one whose worker is alive says nothing of it, and can be terminated, not retried', async () => {
    fakeService('operator', [...ALL_TASKS, task({ taskId: 'running-1', state: 'started', finishedAt: null })]);
    renderApp('/tasks/celery/running-1');

    expect(await screen.findByRole('button', { name: 'Terminate' }, PAGE_LOAD)).toBeInTheDocument();
    expect(screen.queryByRole('status', { name: 'Its worker is gone' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });
});
