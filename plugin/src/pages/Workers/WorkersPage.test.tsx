import { screen, waitFor, within } from '@testing-library/react';
import { SERVICE_API_URL } from '../../api/client';
import type { Command, Worker } from '../../api/types';
import { reply } from '../../test/backend';
import { fakeService } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';

beforeEach(() => window.localStorage.clear());

// The page asks again every 10 s.
const NEXT_POLL = { timeout: 15_000 };

const worker = (online: boolean): Worker => ({
  engine: 'celery',
  hostname: 'celery@w1',
  online,
  firstSeenAt: '2026-11-29T12:00:00.000Z',
  lastSeenAt: '2026-11-29T12:00:03.000Z',
  offlineAt: online ? null : '2026-11-29T12:00:05.000Z',
  heartbeatS: 2,
  active: 0,
  processed: 1,
  loadavg: [0.1],
  pid: 1,
  software: 'celery 5.5',
  concurrency: 4,
  dropped: 0,
  payloadsDropped: 0,
  failed24h: 0,
});

/** One Celery worker, online until `state.online` is set to false. */
function oneWorker(role: 'operator' | 'admin') {
  const backend = fakeService(role);
  const state = { online: true };
  backend.routes[`GET ${SERVICE_API_URL}/workers`] = () => reply({ workers: [worker(state.online)] });
  return { backend, state };
}

describe('a worker that goes offline', () => {
  test('after an Admin shut it down, the outcome stays in view', async () => {
    const { backend, state } = oneWorker('admin');
    backend.routes[`POST ${SERVICE_API_URL}/workers/celery/${encodeURIComponent('celery@w1')}/shutdown`] = () => {
      state.online = false;
      const command: Command = {
        id: 9,
        kind: 'worker.shutdown',
        engine: 'celery',
        target: 'celery@w1',
        args: {},
        state: 'succeeded',
        outcome: { message: 'shutdown acknowledged by celery@w1' },
        requestedBy: 'admin-user',
        createdAt: '2026-11-29T12:00:04.000Z',
        updatedAt: '2026-11-29T12:00:04.000Z',
      };
      return reply({ command }, 202);
    };
    const { user } = renderApp('/workers');
    await user.click(await screen.findByRole('button', { name: 'Shut down' }, PAGE_LOAD));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Shut down' }));

    await waitFor(() => expect(screen.getByText('offline')).toBeInTheDocument());
    expect(screen.queryByRole('button', { name: 'Shut down' })).not.toBeInTheDocument();
    const outcome = within(screen.getByTestId('action-outcomes')).getByRole('status', {
      name: 'Shut down celery@w1: succeeded',
    });
    expect(outcome).toHaveTextContent('shutdown acknowledged by celery@w1');

    // Another project's page does not show it.
    await user.click(screen.getByRole('combobox', { name: 'Project' }));
    await user.keyboard('Ops{ArrowDown}{Enter}');
    await waitFor(() => expect(screen.getByRole('combobox', { name: 'Project' })).toHaveValue('Ops'));
    expect(screen.queryByRole('status', { name: 'Shut down celery@w1: succeeded' })).not.toBeInTheDocument();
  });

  test('while an Operator is setting its controls, the dialog stays open', async () => {
    const { state } = oneWorker('operator');
    const { user } = renderApp('/workers');
    await user.click(await screen.findByRole('button', { name: /control/i }, PAGE_LOAD));
    const dialog = await screen.findByRole('dialog');

    state.online = false;
    expect(await screen.findByText('offline', undefined, NEXT_POLL)).toBeInTheDocument();
    expect(dialog).toBeInTheDocument();
  }, 20_000);
});

describe("a worker's tasks", () => {
  test('an offline one links to the explorer with the tasks it left started, since it was first seen', async () => {
    const { state } = oneWorker('operator');
    state.online = false;
    const { user } = renderApp('/workers');

    const link = await screen.findByRole('link', { name: 'Tasks left started' }, PAGE_LOAD);
    const url = new URL(link.getAttribute('href')!, 'http://grafana');
    expect(url.pathname).toMatch(/\/tasks$/);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      engine: 'celery',
      state: 'started',
      worker: 'celery@w1',
      from: String(Date.parse('2026-11-29T11:00:00.000Z')),
    });
    await user.click(link);
    expect(await screen.findByRole('textbox', { name: 'Worker' }, PAGE_LOAD)).toHaveValue('celery@w1');
  });

  test('an online one links to its running tasks', async () => {
    oneWorker('operator');
    renderApp('/workers');
    expect(await screen.findByRole('link', { name: 'Running tasks' }, PAGE_LOAD)).toHaveAttribute(
      'href',
      expect.stringContaining('state=started')
    );
  });
});
