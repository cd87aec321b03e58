import { screen, waitFor, within } from '@testing-library/react';
import { ALL_TASKS, fakeService, task } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';

// The explorer refreshes every 5 s while its range ends at "now".
const NEXT_TICK = { timeout: 9000 };

const arrivals = (n: number) =>
  Array.from({ length: n }, (_, i) => task({ taskId: `burst-${n - i}`, name: `burst.${n - i}` }));

const rows = (table: HTMLElement) => within(table).getAllByTestId('task-row');

beforeEach(() => window.localStorage.clear());

describe('live refresh after a burst of tasks', () => {
  test('reads page after page down to the rows on screen, so no task is skipped', async () => {
    const tasks = [...ALL_TASKS];
    const backend = fakeService('viewer', tasks);
    renderApp('/tasks');
    const table = await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD);
    expect(rows(table)).toHaveLength(4);

    tasks.unshift(...arrivals(120));
    await waitFor(() => expect(rows(table)).toHaveLength(124), NEXT_TICK);
    // The oldest of the burst sits right above the rows that were there.
    expect(within(rows(table)[119]!).getByText('burst.1')).toBeInTheDocument();
    expect(within(rows(table)[120]!).getByText('billing.charge')).toBeInTheDocument();
    const refresh = backend.requests.filter((r) => r.url.endsWith('/api/tasks')).slice(1);
    expect(refresh.map((r) => r.params?.cursor ?? null)).toEqual([null, 'burst-71', 'burst-21']);
    expect(screen.queryByText(/more tasks arrived/i)).not.toBeInTheDocument();
  });

  test('when more arrive than one refresh reads, says so and reloads on demand', async () => {
    const tasks = [...ALL_TASKS];
    fakeService('viewer', tasks);
    const { user } = renderApp('/tasks');
    const table = await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD);

    tasks.unshift(...arrivals(300));
    const notice = await screen.findByRole('status', { name: 'More tasks arrived than live refresh shows' }, NEXT_TICK);
    // Nothing is added with a gap below it.
    expect(rows(table)).toHaveLength(4);

    await user.click(within(notice).getByRole('button', { name: 'Reload' }));
    await waitFor(() => expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(50));
    expect(screen.queryByText(/more tasks arrived/i)).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Load older tasks' })).toBeInTheDocument();
  });
});
