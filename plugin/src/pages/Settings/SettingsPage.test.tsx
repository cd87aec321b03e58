import { screen, waitFor, within } from '@testing-library/react';
import pluginJson from '../../plugin.json';
import { fakeService } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';

beforeEach(() => window.localStorage.clear());

const deletes = (backend: ReturnType<typeof fakeService>) => backend.requests.filter((r) => r.method === 'DELETE');

describe('project settings', () => {
  test('are in every Grafana user’s navigation; the page itself asks for the project Admin role', async () => {
    const include = pluginJson.includes.find((i) => i.name === 'Settings')!;
    expect(include).toMatchObject({ role: 'Viewer', addToNav: true });

    const backend = fakeService('operator');
    renderApp('/settings');
    expect(
      await screen.findByRole('status', { name: 'Project settings need the Admin role' }, PAGE_LOAD)
    ).toHaveTextContent('You are operator in Default');
    expect(backend.requests.filter((r) => r.url.endsWith('/members'))).toEqual([]);
  });

  test('an Admin removes a member only after confirming', async () => {
    const backend = fakeService('admin');
    const { user } = renderApp('/settings');
    await user.click(await screen.findByRole('button', { name: 'Remove alice' }, PAGE_LOAD));

    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Remove alice?');
    expect(deletes(backend)).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Remove' }));

    await waitFor(() => expect(deletes(backend).map((r) => r.url)).toEqual([expect.stringMatching(/\/members\/7$/)]));
  });

  test('an Admin adds a member found by name in Grafana, not typed in by numeric id', async () => {
    const backend = fakeService('admin');
    const { user } = renderApp('/settings');
    await user.click(await screen.findByRole('combobox', { name: /^Grafana user Search by name/ }, PAGE_LOAD));
    await user.keyboard('builder');
    await waitFor(() => expect(backend.requests.some((r) => r.url === '/api/org/users/lookup' && r.params?.query === 'builder')).toBe(true));
    await user.keyboard('{ArrowDown}{Enter}');
    expect(screen.getByLabelText('Grafana user id')).toHaveValue('12');
    expect(screen.getByLabelText('Login')).toHaveValue('bob');
    await user.click(screen.getByRole('button', { name: 'Add member' }));

    const put = await waitFor(() => backend.requests.find((r) => r.method === 'PUT')!);
    expect(put.url).toMatch(/\/members\/12$/);
    expect(put.data).toEqual({ login: 'bob', role: 'viewer', email: 'bob@example.com', name: 'Bob Builder' });
  });

  test('an Admin is offered only the roles an Admin may grant', async () => {
    const backend = fakeService('admin');
    const { user } = renderApp('/settings');
    const role = await screen.findByRole('combobox', { name: 'Role of alice' }, PAGE_LOAD);
    const puts = () => backend.requests.filter((r) => r.method === 'PUT').map((r) => r.data);

    await user.click(role);
    await user.keyboard('owner{ArrowDown}{Enter}');
    await user.click(role);
    await user.keyboard('{Control>}a{/Control}operator{ArrowDown}{Enter}');

    await waitFor(() => expect(puts()).toEqual([{ login: 'alice', role: 'operator' }]));
  });

  test('an Admin revokes an invitation and an API token only after confirming', async () => {
    const backend = fakeService('admin');
    const { user } = renderApp('/settings?tab=invitations');
    await user.click(await screen.findByRole('button', { name: 'Revoke' }, PAGE_LOAD));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Revoke the invitation to newcomer@example.com?');
    expect(deletes(backend)).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() =>
      expect(deletes(backend).map((r) => r.url)).toEqual([expect.stringMatching(/\/invitations\/inv-1$/)])
    );

    await user.click(screen.getByRole('tab', { name: 'API tokens' }));
    await user.click(
      within(await screen.findByRole('row', { name: /ci-bot/ })).getByRole('button', { name: 'Revoke' })
    );
    const tokenDialog = await screen.findByRole('dialog');
    expect(tokenDialog).toHaveTextContent('Revoke the token ci-bot?');
    await user.click(within(tokenDialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(deletes(backend)).toHaveLength(2));
    expect(deletes(backend)[1]!.url).toMatch(/\/tokens\/tok-1$/);
  });

  test('an Admin sees which tokens act below their role because their maker is now lower', async () => {
    fakeService('admin');
    renderApp('/settings?tab=tokens');
    const capped = await screen.findByRole('row', { name: /deploy/ }, PAGE_LOAD);
    expect(capped).toHaveTextContent('adminacts as viewer');
    expect(screen.getByRole('row', { name: /ci-bot/ })).not.toHaveTextContent('acts as');
  });
});
