import { screen, waitFor, within } from '@testing-library/react';
import { SERVICE_API_URL } from '../../api/client';
import { taskUrl } from '../../constants';
import { ALL_TASKS, fakeService, task } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';
import { location } from '../../test/render';

beforeEach(() => window.localStorage.clear());

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
