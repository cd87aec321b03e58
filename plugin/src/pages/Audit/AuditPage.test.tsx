import React from 'react';
import { useNavigate } from 'react-router-dom';
import { screen, waitFor, within } from '@testing-library/react';
import { SERVICE_API_URL } from '../../api/client';
import type { AuditEntry } from '../../api/types';
import { pageOf, reply } from '../../test/backend';
import { fakeService } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';
import { location, render } from '../../test/render';
import { SessionProvider } from '../../hooks/useSession';
import AuditPage from './AuditPage';

beforeEach(() => window.localStorage.clear());

describe('the audit log', () => {
  test('an Operator is told it is for project Admins, and nothing is asked of the service', async () => {
    const backend = fakeService('operator');
    renderApp('/audit');

    const notice = await screen.findByRole('status', { name: 'The audit log is for project Admins' }, PAGE_LOAD);
    expect(notice).toHaveTextContent('You are operator in Default');
    expect(backend.requests.filter((r) => r.url.includes('/audit'))).toEqual([]);
  });

  test('an Admin sees why the chain could not be verified', async () => {
    const backend = fakeService('admin');
    backend.routes[`GET ${SERVICE_API_URL}/audit/verify`] = () =>
      reply({ error: { code: 'INTERNAL', message: 'the audit key is missing' } }, 500);
    renderApp('/audit');

    const error = await screen.findByRole(
      'alert',
      { name: "Could not load the audit chain's verification" },
      PAGE_LOAD
    );
    expect(error).toHaveTextContent('the audit key is missing');
    expect(await screen.findByRole('table', { name: 'Audit log' })).toBeInTheDocument();
  });

  test("an entry's detail reads as key and value pairs, the whole of it on hover", async () => {
    const backend = fakeService('admin');
    const list = backend.routes[`GET ${SERVICE_API_URL}/audit`]!;
    backend.routes[`GET ${SERVICE_API_URL}/audit`] = (r) => {
      const res = list(r) as { data: { entries: Array<Record<string, unknown>> } };
      res.data.entries[0]!.detail = { commandId: 17, state: 'succeeded', filters: { state: 'failed' } };
      return res as never;
    };
    renderApp('/audit');

    const table = await screen.findByRole('table', { name: 'Audit log' }, PAGE_LOAD);
    const detail = within(table).getByTitle(/"commandId": 17/);
    expect(detail).toHaveTextContent('commandId 17 · state succeeded · filters {"state":"failed"}');
  });

  test('a value cut to fit is shown whole with "Show all", which a keyboard reaches', async () => {
    const backend = fakeService('admin');
    const list = backend.routes[`GET ${SERVICE_API_URL}/audit`]!;
    const reason = `${'the nightly export failed on every shard; '.repeat(4)}retried by hand`;
    backend.routes[`GET ${SERVICE_API_URL}/audit`] = (r) => {
      const res = list(r) as { data: { entries: Array<Record<string, unknown>> } };
      res.data.entries[0]!.detail = { reason };
      return res as never;
    };
    const { user } = renderApp('/audit');

    const table = await screen.findByRole('table', { name: 'Audit log' }, PAGE_LOAD);
    expect(within(table).queryByText(reason, { exact: false })).not.toBeInTheDocument();
    await user.click(within(table).getByRole('button', { name: 'Show all' }));
    expect(within(table).getByText(reason, { exact: false })).toBeInTheDocument();
    expect(within(table).queryByRole('button', { name: 'Show all' })).not.toBeInTheDocument();
  });

  test("says the user's address an entry came from, and the proxy it came through", async () => {
    const backend = fakeService('admin');
    const list = backend.routes[`GET ${SERVICE_API_URL}/audit`]!;
    backend.routes[`GET ${SERVICE_API_URL}/audit`] = (r) => {
      const res = list(r) as { data: { entries: Array<Record<string, unknown>> } };
      res.data.entries[0]!.forwardedFor = '203.0.113.7, 10.0.0.9';
      return res as never;
    };
    renderApp('/audit');

    const table = await screen.findByRole('table', { name: 'Audit log' }, PAGE_LOAD);
    const from = within(table).getByTitle('X-Forwarded-For: 203.0.113.7, 10.0.0.9');
    expect(from).toHaveTextContent('203.0.113.7 via 10.0.0.1');
  });

  test('a filter left unchanged adds no step to the history, and Back shows the log as it was', async () => {
    const backend = fakeService('admin');
    const { user } = render(
      <SessionProvider>
        <AuditPage />
        <BackButton />
      </SessionProvider>,
      { route: '/audit' }
    );
    await screen.findByRole('table', { name: 'Audit log' }, PAGE_LOAD);
    const actor = screen.getByLabelText('Actor');
    await user.type(actor, 'alice{Enter}');
    await waitFor(() => expect(location.current).toContain('actor=alice'));
    await user.click(actor);
    await user.tab(); // left without a change
    await user.click(actor);
    await user.keyboard('{Enter}'); // applied again without a change

    await user.click(screen.getByRole('button', { name: 'Back' }));
    await waitFor(() => expect(location.current).not.toContain('actor='));
    expect(actor).toHaveValue('');
    await waitFor(() =>
      expect(backend.requests.filter((r) => r.url.endsWith('/api/audit')).at(-1)!.params).not.toHaveProperty('actor')
    );
  });
});

describe('filtering the audit log', () => {
  test('a filter whose answer fails shows why, not the unfiltered entries as if they matched', async () => {
    const backend = fakeService('admin');
    const entry = (id: string, actorName: string) => ({
      id,
      seq: Number(id),
      at: new Date(Date.UTC(2026, 10, 29, 12, 0, 60 - Number(id))).toISOString(),
      actorKind: 'user',
      actorId: id,
      actorName,
      action: 'queue.purge',
      target: 'celery/emails',
      outcome: 'ok',
      detail: null,
      ip: '10.0.0.1',
      forwardedFor: null,
      requestId: `r${id}`,
    });
    const entries = [entry('1', 'alice'), entry('2', 'mallory'), entry('3', 'alice')];
    backend.routes[`GET ${SERVICE_API_URL}/audit`] = (r) => {
      const p = r.params as Record<string, string>;
      if (p.actor) {
        return reply({ error: { code: 'READ_TIMEOUT', message: 'the audit query took too long' } }, 503);
      }
      // Two entries a page: the log has an older page.
      const after = p.cursor ? entries.findIndex((e) => e.id === p.cursor) + 1 : 0;
      const page = entries.slice(after, after + 2);
      return reply({ entries: page, nextCursor: after + 2 < entries.length ? page.at(-1)!.id : null });
    };
    const { user } = renderApp('/audit');
    const table = await screen.findByRole('table', { name: 'Audit log' }, PAGE_LOAD);
    expect(within(table).getByText('mallory')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Load older entries' }));
    await waitFor(() => expect(within(table).getAllByRole('row')).toHaveLength(4)); // the header and 3 entries

    await user.type(screen.getByLabelText('Actor'), 'alice{Enter}');
    const error = await screen.findByRole('alert', { name: 'Could not load the audit log' });
    expect(error).toHaveTextContent('the audit query took too long');
    // Neither mallory's entry under "actor alice", nor a Load older that would continue the unfiltered log.
    expect(screen.queryByRole('table', { name: 'Audit log' })).not.toBeInTheDocument();
    expect(screen.queryByText('mallory')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /load older/i })).not.toBeInTheDocument();
  });
});

describe('loading older entries of a range relative to now', () => {
  test('goes on from the range the first page was read with, though time has passed: no entry is skipped', async () => {
    const opened = Date.now();
    // 150 entries over the last 6.9 days (the default range is the last 7).
    const entries: AuditEntry[] = Array.from({ length: 150 }, (_, i) => ({
      id: String(150 - i),
      seq: 150 - i,
      at: new Date(opened - 1000 - i * 4_000_000).toISOString(),
      actorKind: 'user',
      actorId: '7',
      actorName: `actor-${i}`,
      action: 'task.retry',
      target: `celery/t${i}`,
      outcome: 'ok',
      detail: null,
      ip: '10.0.0.1',
      forwardedFor: null,
      requestId: null,
    }));
    const backend = fakeService('admin');
    // As the service: only entries in [from, to).
    backend.routes[`GET ${SERVICE_API_URL}/audit`] = (r) => {
      const p = r.params as Record<string, string>;
      const at = (e: AuditEntry) => Date.parse(e.at);
      const { page, nextCursor } = pageOf(
        entries.filter((e) => Number(p.from) <= at(e) && at(e) < Number(p.to)),
        r.params
      );
      return reply({ entries: page, nextCursor });
    };
    const { user } = renderApp('/audit');
    const older = await screen.findByRole('button', { name: 'Load older entries' }, PAGE_LOAD);
    const audit = () => backend.requests.filter((r) => r.url.endsWith('/api/audit'));
    const first = audit()[0]!;

    // A day later: "last 7 days" now starts after the oldest twenty entries.
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 86_400_000);
    try {
      await user.click(older);
      await waitFor(() => expect(screen.queryByRole('button', { name: 'Load older entries' })).not.toBeInTheDocument());
    } finally {
      clock.mockRestore();
    }
    const table = screen.getByRole('table', { name: 'Audit log' });
    expect(table.querySelectorAll('tbody tr')).toHaveLength(150);
    const more = audit().at(-1)!;
    expect(more.params?.cursor).toBe('51');
    expect([more.params?.from, more.params?.to]).toEqual([first.params?.from, first.params?.to]);
  });
});

/** The browser's Back button. */
function BackButton() {
  const navigate = useNavigate();
  return <button onClick={() => navigate(-1)}>Back</button>;
}
