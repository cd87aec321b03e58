import { screen, waitFor, within } from '@testing-library/react';
import pluginJson from '../../plugin.json';
import { SERVICE_API_URL } from '../../api/client';
import { agentCredential, apiToken, fakeService, invitation, type SettingsLists } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';
import { reply } from '../../test/backend';

beforeEach(() => window.localStorage.clear());

const deletes = (backend: ReturnType<typeof fakeService>) => backend.requests.filter((r) => r.method === 'DELETE');

/** 60 of each settings list, newest first: more than the page of 50 the tabs ask for. */
const MANY = 60;
const numbered = <T,>(make: (i: number) => T) => Array.from({ length: MANY }, (_, i) => make(MANY - i));
const manyLists = (): Required<Omit<SettingsLists, 'alerting'>> => ({
  invitations: numbered((i) => invitation({ id: `inv-${i}`, email: `user-${i}@example.com` })),
  tokens: numbered((i) => apiToken({ id: `tok-${i}`, name: `ci-${i}` })),
  agents: numbered((i) => agentCredential({ id: `agt-${i}`, name: `fleet-${i}` })),
});

// With 60 rows on screen, queries by role over the whole page take seconds each in jsdom (every
// element's role and accessible name): these tests find rows in the table's DOM and buttons
// outside it by their text, and keep role queries to one row or the dialog.
const bodyRows = (table: HTMLElement) => Array.from(table.querySelectorAll<HTMLElement>('tbody tr'));
/** The first cell of each body row of a table (its name). */
const names = (table: HTMLElement) => bodyRows(table).map((row) => row.querySelector('td')?.textContent);
const rowNamed = (table: HTMLElement, name: string) =>
  bodyRows(table).find((row) => row.querySelector('td')?.textContent === name)!;

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
    await waitFor(() =>
      expect(backend.requests.some((r) => r.url === '/api/org/users/lookup' && r.params?.query === 'builder')).toBe(
        true
      )
    );
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
    await user.click(await screen.findByRole('button', { name: 'Revoke newcomer@example.com' }, PAGE_LOAD));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Revoke the invitation to newcomer@example.com?');
    expect(deletes(backend)).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() =>
      expect(deletes(backend).map((r) => r.url)).toEqual([expect.stringMatching(/\/invitations\/inv-1$/)])
    );

    await user.click(screen.getByRole('tab', { name: 'API tokens' }));
    await user.click(
      within(await screen.findByRole('row', { name: /ci-bot/ })).getByRole('button', { name: 'Revoke ci-bot' })
    );
    const tokenDialog = await screen.findByRole('dialog');
    expect(tokenDialog).toHaveTextContent('Revoke the token ci-bot?');
    await user.click(within(tokenDialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(deletes(backend)).toHaveLength(2));
    expect(deletes(backend)[1]!.url).toMatch(/\/tokens\/tok-1$/);
  });

  test('an Admin revokes an agent only after a confirmation that names it', async () => {
    const agents = [
      agentCredential({ id: 'agt-2', name: 'billing-fleet' }),
      agentCredential({ id: 'agt-1', name: 'emails-fleet' }),
    ];
    const backend = fakeService('admin', undefined, { agents });
    const { user } = renderApp('/settings?tab=agents');
    const row = await screen.findByRole('row', { name: /emails-fleet/ }, PAGE_LOAD);
    await user.click(within(row).getByRole('button', { name: 'Revoke emails-fleet' }));

    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Revoke the agent emails-fleet?');
    expect(dialog).toHaveTextContent('agt-1');
    expect(deletes(backend)).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(deletes(backend).map((r) => r.url)).toEqual([`${SERVICE_API_URL}/agents/agt-1`]));
  });

  test("an Admin rotates an agent's secret only after confirming, and is shown the new one", async () => {
    const agents = [
      agentCredential({ id: 'agt-2', name: 'billing-fleet' }),
      agentCredential({ id: 'agt-1', name: 'emails-fleet' }),
    ];
    const backend = fakeService('admin', undefined, { agents });
    const rotated = { ...agents[1]!, liveSecrets: 2 };
    backend.routes[`POST ${SERVICE_API_URL}/agents/agt-1/rotate`] = () =>
      reply({ agent: rotated, agentId: 'agt-1', secret: 'new-secret-shown-once', project: 'default' });
    const rotations = () => backend.requests.filter((r) => r.url.endsWith('/rotate'));
    const { user } = renderApp('/settings?tab=agents');
    const row = await screen.findByRole('row', { name: /emails-fleet/ }, PAGE_LOAD);
    await user.click(within(row).getByRole('button', { name: 'Rotate secret of emails-fleet' }));

    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Rotate the secret of emails-fleet?');
    expect(rotations()).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Rotate' }));
    expect(await screen.findByTestId('agent-snippet')).toHaveTextContent('new-secret-shown-once');
    expect(rotations()).toHaveLength(1);
  });

  test("each row's Revoke and Rotate name what they act on, for those who hear the page rather than see it", async () => {
    fakeService('admin', undefined, {
      tokens: [apiToken({ id: 'tok-1', name: 'ci-bot' })],
      agents: [agentCredential({ id: 'agt-1', name: 'emails-fleet' })],
    });
    const { user } = renderApp('/settings?tab=invitations');
    expect(await screen.findByRole('button', { name: 'Revoke newcomer@example.com' }, PAGE_LOAD)).toBeInTheDocument();
    await user.click(screen.getByRole('tab', { name: 'API tokens' }));
    expect(await screen.findByRole('button', { name: 'Revoke ci-bot' })).toBeInTheDocument();
    await user.click(screen.getByRole('tab', { name: 'Agents' }));
    expect(await screen.findByRole('button', { name: 'Revoke emails-fleet' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Rotate secret of emails-fleet' })).toBeInTheDocument();
  });

  test('an Admin sees which tokens act below their role because their maker is now lower', async () => {
    fakeService('admin');
    renderApp('/settings?tab=tokens');
    const capped = await screen.findByRole('row', { name: /deploy/ }, PAGE_LOAD);
    expect(capped).toHaveTextContent('adminacts as viewer');
    expect(screen.getByRole('row', { name: /ci-bot/ })).not.toHaveTextContent('acts as');
  });

  test.each([
    {
      tab: 'invitations',
      table: 'Invitations',
      path: '/invitations',
      button: 'Load older invitations',
      first: 'user-60@example.com',
      last: 'user-1@example.com',
    },
    {
      tab: 'tokens',
      table: 'API tokens',
      path: '/tokens',
      button: 'Load older API tokens',
      first: 'ci-60',
      last: 'ci-1',
    },
    {
      tab: 'agents',
      table: 'Agents',
      path: '/agents',
      button: 'Load older agents',
      first: 'fleet-60',
      last: 'fleet-1',
    },
  ])(
    'an Admin reads $tab page by page: Load older fetches the next page and appends it',
    async ({ tab, table, path, button, first, last }) => {
      const backend = fakeService('admin', undefined, manyLists());
      const lists = () => backend.requests.filter((r) => r.method === 'GET' && r.url === `${SERVICE_API_URL}${path}`);
      const { user } = renderApp(`/settings?tab=${tab}`);
      const list = await screen.findByRole('table', { name: table }, PAGE_LOAD);
      expect(names(list)).toHaveLength(50);
      expect(names(list)[0]).toBe(first);
      expect(lists().map((r) => r.params)).toEqual([{ limit: 50 }]);

      await user.click(screen.getByText(button));

      await waitFor(() => expect(names(list)).toHaveLength(MANY));
      expect(names(list)[0]).toBe(first);
      expect(names(list)[MANY - 1]).toBe(last);
      expect(new Set(names(list)).size).toBe(MANY);
      const lastOfFirstPage = manyLists()[tab as keyof ReturnType<typeof manyLists>][49]!.id;
      expect(lists().map((r) => r.params)).toEqual([{ limit: 50 }, { limit: 50, cursor: lastOfFirstPage }]);
      expect(screen.queryByText(button)).not.toBeInTheDocument();
    }
  );

  test('an Admin revokes a token on the second page and sees it revoked where it was; a new token shows on top', async () => {
    const backend = fakeService('admin', undefined, manyLists());
    const { user } = renderApp('/settings?tab=tokens');
    const list = await screen.findByRole('table', { name: 'API tokens' }, PAGE_LOAD);
    await user.click(screen.getByText('Load older API tokens'));
    await waitFor(() => expect(names(list)).toHaveLength(MANY));

    await user.click(within(rowNamed(list, 'ci-5')).getByRole('button', { name: 'Revoke ci-5' }));
    const dialog = (await screen.findByText('Revoke the token ci-5?')).closest<HTMLElement>('[role="dialog"]')!;
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));

    await waitFor(() =>
      expect(within(rowNamed(list, 'ci-5')).queryByRole('button', { name: 'Revoke ci-5' })).toBeNull()
    );
    expect(names(list)).toHaveLength(MANY);
    expect(within(rowNamed(list, 'ci-6')).getByRole('button', { name: 'Revoke ci-6' })).toBeInTheDocument();
    expect(deletes(backend).map((r) => r.url)).toEqual([`${SERVICE_API_URL}/tokens/tok-5`]);

    await user.type(screen.getByLabelText('Name'), 'nightly');
    await user.click(screen.getByText('Create token'));

    await waitFor(() => expect(names(list)[0]).toBe('nightly'));
    expect(names(list)).toHaveLength(MANY + 1);
    expect(names(list)[MANY]).toBe('ci-1');
    expect(within(screen.getByRole('dialog')).getByDisplayValue('z4j_shown-once')).toBeInTheDocument();
  });
});

describe('a settings list read again after a change', () => {
  const timeout = () => reply({ error: { code: 'READ_TIMEOUT', message: 'the query took too long' } }, 503);
  /** The list at `path` is read once; later reads fail until `back()`. */
  function failingAfterFirstRead(backend: ReturnType<typeof fakeService>, path: string) {
    const route = `GET ${SERVICE_API_URL}${path}`;
    const list = backend.routes[route]!;
    let reads = 0;
    let down = true;
    backend.routes[route] = (r) => (++reads > 1 && down ? timeout() : list(r));
    return { back: () => (down = false) };
  }
  const isAbove = (a: HTMLElement, b: HTMLElement) =>
    Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);

  test('keeps the members on screen when it fails, with the failure above them and Try again', async () => {
    const backend = fakeService('admin');
    const service = failingAfterFirstRead(backend, '/members');
    const { user } = renderApp('/settings');
    await user.click(await screen.findByRole('button', { name: 'Remove alice' }, PAGE_LOAD));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Remove' }));

    const failed = await screen.findByRole('alert', { name: 'Could not load members' });
    expect(failed).toHaveTextContent('the query took too long');
    const table = screen.getByRole('table', { name: 'Members' });
    expect(table).toHaveTextContent('alice');
    expect(isAbove(failed, table)).toBe(true);
    expect(screen.getByRole('button', { name: 'Add member' })).toBeInTheDocument();

    service.back();
    await user.click(within(failed).getByRole('button', { name: 'Try again' }));
    await waitFor(() =>
      expect(screen.queryByRole('alert', { name: 'Could not load members' })).not.toBeInTheDocument()
    );
    expect(screen.getByRole('table', { name: 'Members' })).toHaveTextContent('alice');
  });

  test('keeps the API tokens on screen when it fails, with the failure above them', async () => {
    const backend = fakeService('admin');
    failingAfterFirstRead(backend, '/tokens');
    const { user } = renderApp('/settings?tab=tokens');
    const row = await screen.findByRole('row', { name: /ci-bot/ }, PAGE_LOAD);
    await user.click(within(row).getByRole('button', { name: 'Revoke ci-bot' }));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Revoke' }));

    const failed = await screen.findByRole('alert', { name: 'Could not load API tokens' });
    const table = screen.getByRole('table', { name: 'API tokens' });
    expect(names(table)).toEqual(['ci-bot', 'deploy']);
    expect(isAbove(failed, table)).toBe(true);
  });
});

describe('a secret the service shows once', () => {
  test('a new API token is shown in a dialog over the form that made it, with Copy, and is gone once closed', async () => {
    fakeService('admin');
    const { user } = renderApp('/settings?tab=tokens');
    await user.type(await screen.findByLabelText('Name', undefined, PAGE_LOAD), 'nightly');
    await user.click(screen.getByRole('button', { name: 'Create token' }));

    const dialog = await screen.findByRole('dialog', { name: 'API token nightly created' });
    expect(dialog).toHaveTextContent('Copy the token now: it is not shown again');
    expect(within(dialog).getByDisplayValue('z4j_shown-once')).toBeInTheDocument();
    expect(within(dialog).getByRole('button', { name: 'Copy' })).toBeInTheDocument();
    expect(screen.getAllByDisplayValue('z4j_shown-once')).toHaveLength(1); // nowhere else on the page

    await user.click(within(dialog).getByRole('button', { name: 'Done' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(screen.queryByDisplayValue('z4j_shown-once')).not.toBeInTheDocument();
    expect(screen.queryByText(/z4j_shown-once/)).not.toBeInTheDocument();
  });

  test("an agent's new secret, rotated from its row, is shown in a dialog with its install snippet, and is gone once closed", async () => {
    const backend = fakeService('admin', undefined, manyLists());
    backend.routes[`POST ${SERVICE_API_URL}/agents/agt-3/rotate`] = () =>
      reply({
        agent: agentCredential({ id: 'agt-3', name: 'fleet-3' }),
        agentId: 'agt-3',
        secret: 'rotated-secret',
        project: 'default',
      });
    const { user } = renderApp('/settings?tab=agents');
    const list = await screen.findByRole('table', { name: 'Agents' }, PAGE_LOAD);
    await user.click(screen.getByText('Load older agents'));
    await waitFor(() => expect(names(list)).toHaveLength(MANY));
    await user.click(within(rowNamed(list, 'fleet-3')).getByRole('button', { name: 'Rotate secret of fleet-3' }));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Rotate' }));

    const dialog = await screen.findByRole('dialog', { name: 'New secret of fleet-3' });
    expect(dialog).toHaveTextContent('Copy it now: it is not shown again');
    expect(within(dialog).getByTestId('agent-snippet')).toHaveTextContent('rotated-secret');
    expect(within(dialog).getByRole('button', { name: 'Copy' })).toBeInTheDocument();
    expect(screen.getAllByText(/rotated-secret/)).toHaveLength(1);

    await user.click(within(dialog).getByRole('button', { name: 'Done' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(screen.queryByText(/rotated-secret/)).not.toBeInTheDocument();
  });
});

describe('who reads the project through Grafana alert rules', () => {
  test('an Admin sees the database roles granted, a missing one flagged, and the command that grants one', async () => {
    const backend = fakeService('admin');
    renderApp('/settings?tab=alerting');
    const table = await screen.findByRole('table', { name: 'Database roles that read this project' }, PAGE_LOAD);
    expect(screen.getByRole('tab', { name: 'Alerting' })).toHaveAttribute('aria-selected', 'true');
    expect(bodyRows(table).map((row) => Array.from(row.querySelectorAll('td')).map((td) => td.textContent))).toEqual([
      ['grafana_ops', 'every project', expect.any(String), 'cli:ada'],
      ['grafana_oldrole missing', 'this project', expect.any(String), 'cli:bob'],
    ]);
    expect(screen.getByTestId('alerting-grant')).toHaveTextContent(
      'node backend/dist/cli.js alerting grant grafana_default --project default'
    );
    expect(screen.getByRole('button', { name: 'Copy' })).toBeInTheDocument();
    // Read here, changed only from the command line: the tab sends nothing.
    expect(backend.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  test('on embedded storage, the tab says alerting needs PostgreSQL instead of listing roles', async () => {
    fakeService('admin', undefined, { alerting: { storage: 'pglite', readers: [] } });
    renderApp('/settings?tab=alerting');
    expect(
      await screen.findByRole('status', { name: 'Alerting needs the service on PostgreSQL' }, PAGE_LOAD)
    ).toHaveTextContent('DATABASE_URL');
    expect(screen.queryByRole('table')).not.toBeInTheDocument();
  });

  test('with no role granted, the table says alert rules cannot see the project', async () => {
    fakeService('admin', undefined, { alerting: { storage: 'postgres', readers: [] } });
    renderApp('/settings?tab=alerting');
    const table = await screen.findByRole('table', { name: 'Database roles that read this project' }, PAGE_LOAD);
    expect(table).toHaveTextContent('No database role reads this project: alert rules cannot see it.');
  });
});
