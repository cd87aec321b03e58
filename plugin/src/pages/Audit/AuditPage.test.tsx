import { screen, within } from '@testing-library/react';
import { SERVICE_API_URL } from '../../api/client';
import { reply } from '../../test/backend';
import { fakeService } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';

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
});
