import { screen, waitFor, within } from '@testing-library/react';
import { NEVER } from 'rxjs';
import { getBackendSrv, setBackendSrv, type BackendSrv, type BackendSrvRequest } from '@grafana/runtime';
import { SERVICE_API_URL } from '../../api/client';
import type { BulkJob } from '../../api/types';
import { hangRequests, reply } from '../../test/backend';
import { fakeService } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';

beforeEach(() => window.localStorage.clear());

const job = (state: BulkJob['state'], progress: BulkJob['progress']): BulkJob => ({
  id: 5,
  action: 'retry',
  filters: {},
  state,
  total: 3,
  message: null,
  requestedBy: 'operator-user',
  createdAt: '2026-11-29T12:00:00.000Z',
  updatedAt: '2026-11-29T12:00:00.000Z',
  progress,
});

/**
 * A bulk retry of 3 tasks whose job is "succeeded" (every command sent) while the commands wait
 * for the engine: they settle at the `settleAt`th look at the job.
 */
function bulkRetrySettlingLate(settleAt: number) {
  const backend = fakeService('operator');
  const looks = { count: 0 };
  backend.routes[`POST ${SERVICE_API_URL}/bulk`] = () =>
    reply({ job: job('running', { done: 0, succeeded: 0, failed: 0, pending: 0, skipped: 0 }) }, 202);
  backend.routes[`GET ${SERVICE_API_URL}/bulk/5`] = () =>
    ++looks.count < settleAt
      ? reply({ job: job('succeeded', { done: 3, succeeded: 0, failed: 0, pending: 3, skipped: 0 }) })
      : reply({ job: job('succeeded', { done: 3, succeeded: 2, failed: 1, pending: 0, skipped: 0 }) });
  return looks;
}

async function startBulkRetry(user: ReturnType<typeof renderApp>['user']) {
  await user.click(await screen.findByRole('button', { name: /bulk actions/i }, PAGE_LOAD));
  const dialog = await screen.findByRole('dialog');
  await user.click(within(dialog).getByRole('button', { name: 'Preview' }));
  await user.click(await within(dialog).findByRole('button', { name: /^Retry 1 task/ }));
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a bulk retry', () => {
  test('is followed until its commands settle, not only until they are all sent', async () => {
    const looks = bulkRetrySettlingLate(2);
    const { user } = renderApp('/tasks?state=failed');
    await startBulkRetry(user);

    const progress = await screen.findByTestId('bulk-progress');
    await waitFor(() => expect(progress).toHaveTextContent('all sent. 3 of 3 sent — 0 succeeded'), { timeout: 3000 });
    expect(screen.getByRole('progressbar', { name: 'Bulk progress' })).toHaveAttribute('value', '0');

    await waitFor(() => expect(progress).toHaveTextContent('2 succeeded, 1 failed, 0 skipped, 0 pending'), {
      timeout: 3000,
    });
    expect(progress).toHaveTextContent('Job #5 (retry): succeeded.');
    expect(screen.getByRole('progressbar', { name: 'Bulk progress' })).toHaveAttribute('value', '3');
    const settledAfter = looks.count;
    await pause(1500);
    expect(looks.count).toBe(settledAfter);
  }, 30_000);

  test('is no longer asked about once the dialog is closed', async () => {
    const looks = bulkRetrySettlingLate(Infinity);
    const { user } = renderApp('/tasks?state=failed');
    await startBulkRetry(user);
    await waitFor(() => expect(looks.count).toBeGreaterThan(0), { timeout: 3000 });

    await user.click(within(screen.getByTestId('bulk-progress')).getByRole('button', { name: 'Close' }));
    const closedAfter = looks.count;
    await pause(1500);
    expect(looks.count).toBe(closedAfter);
  }, 30_000);
});

describe('a running bulk job', () => {
  const running = job('running', { done: 1, succeeded: 1, failed: 0, pending: 0, skipped: 0 });

  test('can be stopped while a slow service is still answering a look at its progress', async () => {
    const backend = fakeService('operator');
    backend.routes[`POST ${SERVICE_API_URL}/bulk`] = () => reply({ job: running }, 202);
    backend.routes[`POST ${SERVICE_API_URL}/bulk/5/cancel`] = () => reply({ job: { ...running, state: 'cancelled' } });
    // Every look at the job hangs: the service is slow under load.
    const service = getBackendSrv();
    const fetch = (r: BackendSrvRequest) =>
      r.method === 'GET' && r.url.endsWith('/bulk/5') ? NEVER : service.fetch(r);
    setBackendSrv({ fetch } as unknown as BackendSrv);
    const { user } = renderApp('/tasks?state=failed');
    await startBulkRetry(user);
    await pause(1200); // a look is now under way

    const progress = screen.getByTestId('bulk-progress');
    await user.click(within(progress).getByRole('button', { name: 'Stop the job' }));
    await waitFor(() => expect(progress).toHaveTextContent('Job #5 (retry): cancelled.'));
  }, 30_000);

  test('is looked at once at a time: while the service has not answered a look, no other is sent', async () => {
    const backend = fakeService('operator');
    backend.routes[`POST ${SERVICE_API_URL}/bulk`] = () => reply({ job: running }, 202);
    const looks = hangRequests((r) => r.method === 'GET' && r.url.endsWith('/bulk/5'));
    const { user } = renderApp('/tasks?state=failed');
    await startBulkRetry(user);
    await waitFor(() => expect(looks.sent).toBe(1), { timeout: 3000 });

    await pause(3500); // three more seconds of polling
    expect(looks.sent).toBe(1);
  }, 30_000);

  test('says a look at its progress failed, not that the bulk action was refused', async () => {
    const backend = fakeService('operator');
    const looks = { count: 0 };
    backend.routes[`POST ${SERVICE_API_URL}/bulk`] = () => reply({ job: running }, 202);
    backend.routes[`GET ${SERVICE_API_URL}/bulk/5`] = () =>
      ++looks.count === 1
        ? reply({ message: 'Bad Gateway' }, 502)
        : reply({ job: job('succeeded', { done: 3, succeeded: 3, failed: 0, pending: 0, skipped: 0 }) });
    const { user } = renderApp('/tasks?state=failed');
    await startBulkRetry(user);

    const stale = await screen.findByRole('alert', { name: /could not read the job's progress/i }, { timeout: 3000 });
    expect(stale).toHaveTextContent('HTTP 502');
    expect(screen.queryByRole('alert', { name: 'The bulk action was refused' })).not.toBeInTheDocument();
    expect(screen.getByTestId('bulk-progress')).toHaveTextContent('Job #5 (retry): running.');

    await waitFor(() => expect(screen.getByTestId('bulk-progress')).toHaveTextContent('3 succeeded'), {
      timeout: 3000,
    });
    expect(screen.queryByRole('alert', { name: /could not read the job's progress/i })).not.toBeInTheDocument();
  }, 30_000);
});
