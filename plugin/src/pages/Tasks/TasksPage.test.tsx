import { screen, waitFor, within } from '@testing-library/react';
import { from, switchMap } from 'rxjs';
import { createTheme } from '@grafana/data';
import { getBackendSrv, setBackendSrv, type BackendSrv, type BackendSrvRequest } from '@grafana/runtime';
import { SERVICE_API_URL } from '../../api/client';
import { reply } from '../../test/backend';
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

describe('reloading a range that ends now', () => {
  test('Reload after a burst shows the burst: the range ends when Reload is pressed, not when the page opened', async () => {
    const seen = (ms: number) => new Date(ms).toISOString();
    const opened = Date.now();
    const tasks = ALL_TASKS.map((t, i) => ({ ...t, firstSeenAt: seen(opened - 60_000 - i) }));
    const backend = fakeService('viewer', tasks);
    // As the service: only tasks first seen before `to`.
    backend.routes[`GET ${SERVICE_API_URL}/tasks`] = (r) => {
      const p = r.params as Record<string, string>;
      const inRange = tasks.filter((t) => Date.parse(t.firstSeenAt) < Number(p.to));
      const after = p.cursor ? inRange.findIndex((t) => t.taskId === p.cursor) + 1 : 0;
      const page = inRange.slice(after, after + Number(p.limit));
      return reply({ tasks: page, nextCursor: after + page.length < inRange.length ? page.at(-1)!.taskId : null });
    };
    const { user } = renderApp('/tasks');
    const table = await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD);
    expect(rows(table)).toHaveLength(4);

    await new Promise((r) => setTimeout(r, 20));
    tasks.unshift(...arrivals(300).map((t, i) => ({ ...t, firstSeenAt: seen(Date.now() - i) })));
    const notice = await screen.findByRole('status', { name: 'More tasks arrived than live refresh shows' }, NEXT_TICK);
    await user.click(within(notice).getByRole('button', { name: 'Reload' }));

    await waitFor(() => expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(50));
    expect(rows(screen.getByRole('table', { name: 'Tasks' }))[0]).toHaveTextContent('burst.300');
  });
});

describe('loading older tasks', () => {
  test('a page that fails is said by the button, the rows read stay, and it can be asked again', async () => {
    const tasks = Array.from({ length: 120 }, (_, i) => task({ taskId: `t${i}`, queue: 'a', state: 'failed' }));
    const backend = fakeService('viewer', tasks);
    const list = backend.routes[`GET ${SERVICE_API_URL}/tasks`]!;
    let down = true;
    backend.routes[`GET ${SERVICE_API_URL}/tasks`] = (r) =>
      down && (r.params as Record<string, unknown>).cursor
        ? reply({ error: { code: 'READ_TIMEOUT', message: 'the query took too long' } }, 503)
        : list(r);
    const { user } = renderApp('/tasks?queue=a');
    await user.click(await screen.findByRole('button', { name: 'Load older tasks' }, PAGE_LOAD));

    const error = await screen.findByRole('alert', { name: 'Could not load older tasks' });
    expect(error).toHaveTextContent('the query took too long');
    expect(screen.queryByRole('alert', { name: 'Could not load tasks' })).not.toBeInTheDocument();
    expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(50);

    down = false;
    await user.click(screen.getByRole('button', { name: 'Load older tasks' }));
    await waitFor(() => expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(100));
    expect(screen.queryByRole('alert', { name: 'Could not load older tasks' })).not.toBeInTheDocument();
  });
});

describe('reloading the same filters', () => {
  test('keeps the rows and the pages loaded on screen until the new answer comes', async () => {
    const tasks = Array.from({ length: 120 }, (_, i) => task({ taskId: `t${i}`, queue: 'a', state: 'failed' }));
    fakeService('operator', tasks);
    const { user } = renderApp('/tasks?queue=a');
    await user.click(await screen.findByRole('button', { name: 'Load older tasks' }, PAGE_LOAD));
    await waitFor(() => expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(100));

    const release = holdFirstPage('a');
    await user.click(screen.getByRole('button', { name: /bulk actions/i }));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Close' }));
    expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(100); // no flash, nothing thrown away
    release();
    await waitFor(() => expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(50));
  });
});

describe('loading older tasks during a reload', () => {
  test('waits for the reload, and live refresh goes on after it', async () => {
    const tasks = Array.from({ length: 120 }, (_, i) => task({ taskId: `t${i}`, queue: 'a', state: 'failed' }));
    fakeService('operator', tasks);
    const { user } = renderApp('/tasks?queue=a');
    await screen.findByRole('button', { name: 'Load older tasks' }, PAGE_LOAD);

    const release = holdFirstPage('a');
    await user.click(screen.getByRole('button', { name: /bulk actions/i }));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Close' }));
    await user.click(screen.getByRole('button', { name: 'Load older tasks' }));
    release();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Load older tasks' })).toBeEnabled());

    tasks.unshift(task({ taskId: 'late', name: 'arrived.after', queue: 'a', state: 'failed' }));
    expect(await screen.findByText('arrived.after', {}, NEXT_TICK)).toBeInTheDocument();
  });
});

/** Holds the explorer's first page for `queue` until `release()`: the moment between a filter change and its answer. */
function holdFirstPage(queue: string): () => void {
  const service = getBackendSrv();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const fetch = (r: BackendSrvRequest) => {
    const p = r.params as Record<string, unknown> | undefined;
    const held = r.url.endsWith('/api/tasks') && p?.queue === queue && !p.cursor;
    return held ? from(released).pipe(switchMap(() => service.fetch(r))) : service.fetch(r);
  };
  setBackendSrv({ fetch } as unknown as BackendSrv);
  return release;
}

describe('changing a filter', () => {
  test("clears the old filter's rows and its Load older at once, then shows the new filter's from the newest", async () => {
    const tasks = Array.from({ length: 120 }, (_, i) => task({ taskId: `t${i}`, queue: i % 2 ? 'b' : 'a' }));
    fakeService('viewer', tasks);
    const { user } = renderApp('/tasks?queue=b');
    expect(rows(await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD))).toHaveLength(50);

    const release = holdFirstPage('a');
    await user.clear(screen.getByLabelText('Queue'));
    await user.type(screen.getByLabelText('Queue'), 'a{Enter}');
    expect(await screen.findByText('Loading tasks…')).toBeInTheDocument();
    expect(screen.queryByRole('table', { name: 'Tasks' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Load older tasks' })).not.toBeInTheDocument();

    release();
    const table = await screen.findByRole('table', { name: 'Tasks' });
    expect(rows(table)).toHaveLength(50);
    expect(rows(table)[0]).toHaveTextContent('t0');
    expect(rows(table).map((r) => r.children[3]!.textContent)).toEqual(Array(50).fill('a'));
  });
});

describe('the tasks table', () => {
  const name = 'billing.invoices.monthly.generate_and_send_the_statements_of_every_customer_in_the_region';
  const worker = 'celery@billing-worker-5d8f7c9b6-xk2p9.eu-west-1.compute.internal';
  const queue = 'billing.statements.monthly.low-priority';

  test('a long task name, worker or queue is cut with an ellipsis, and shown whole on hover', async () => {
    fakeService('viewer', [task({ taskId: 'long-1', name, worker, queue })]);
    renderApp('/tasks');
    const row = rows(await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD))[0]!;

    expect(within(row).getByRole('link', { name })).toHaveAttribute('title', name);
    expect(within(row).getByText(worker)).toHaveAttribute('title', worker);
    expect(within(row).getByText(queue)).toHaveAttribute('title', queue);
    expect(within(row).getByText('long-1')).toHaveAttribute('title', 'long-1'); // the id line
  });

  test("a failed task's id line, cut on a narrow page, shows its id and whole exception on hover", async () => {
    const exception =
      "RuntimeError('the statement of customer 4711 could not be rendered')\nTraceback (most recent call last): …";
    fakeService('viewer', [task({ taskId: 'long-2', state: 'failed', exception })]);
    const { user } = renderApp('/tasks');
    const row = rows(await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD))[0]!;

    await user.hover(within(row).getByText('long-2'));
    expect(await screen.findByRole('tooltip')).toHaveTextContent(`long-2: ${exception.replace('\n', ' ')}`, {
      normalizeWhitespace: true,
    });
  });

  test("its text is in the theme's type sizes: the table's body, the task id under the name in body small", async () => {
    const theme = createTheme();
    fakeService('viewer', [task({ taskId: 'long-1', name, worker, queue })]);
    renderApp('/tasks');
    const table = await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD);

    expect(getComputedStyle(table).fontSize).toBe(theme.typography.body.fontSize);
    const idLine = within(table).getByText('long-1');
    expect(getComputedStyle(idLine).fontSize).toBe(theme.typography.bodySmall.fontSize);
  });
});

describe('loading older tasks of a range relative to now', () => {
  test('goes on from the range the first page was read with, though time has passed: no task is skipped', async () => {
    const opened = Date.now();
    // 60 tasks over the last 55 minutes, one every 55 s.
    const tasks = Array.from({ length: 60 }, (_, i) =>
      task({ taskId: `t${i}`, firstSeenAt: new Date(opened - 1000 - i * 55_000).toISOString() })
    );
    const backend = fakeService('viewer', tasks);
    // As the service: only tasks first seen in [from, to).
    backend.routes[`GET ${SERVICE_API_URL}/tasks`] = (r) => {
      const p = r.params as Record<string, string>;
      const inRange = tasks.filter(
        (t) => Number(p.from) <= Date.parse(t.firstSeenAt) && Date.parse(t.firstSeenAt) < Number(p.to)
      );
      const after = p.cursor ? inRange.findIndex((t) => t.taskId === p.cursor) + 1 : 0;
      const page = inRange.slice(after, after + Number(p.limit));
      return reply({ tasks: page, nextCursor: after + page.length < inRange.length ? page.at(-1)!.taskId : null });
    };
    const { user } = renderApp('/tasks?from=now-1h');
    const older = await screen.findByRole('button', { name: 'Load older tasks' }, PAGE_LOAD);
    const [first] = backend.requests.filter((r) => r.url.endsWith('/api/tasks'));

    // Ten minutes later: "last hour" now starts after the oldest five tasks.
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 10 * 60_000);
    try {
      await user.click(older);
      await waitFor(() => expect(screen.queryByRole('button', { name: 'Load older tasks' })).not.toBeInTheDocument());
    } finally {
      clock.mockRestore();
    }
    expect(rows(screen.getByRole('table', { name: 'Tasks' }))).toHaveLength(60);
    const more = backend.requests.filter((r) => r.url.endsWith('/api/tasks') && r.params?.cursor).at(-1)!;
    expect([more.params?.from, more.params?.to]).toEqual([first!.params?.from, first!.params?.to]);
  });
});
