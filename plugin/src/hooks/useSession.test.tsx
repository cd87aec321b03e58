import { screen, waitFor, within } from '@testing-library/react';
import { SERVICE_API_URL } from '../api/client';
import { reply } from '../test/backend';
import { fakeService } from '../test/fakeService';
import { PAGE_LOAD, renderApp } from '../test/app';
import { location } from '../test/render';
import { PLUGIN_BASE_URL } from '../constants';

const CAPABILITIES = `GET ${SERVICE_API_URL}/capabilities`;

beforeEach(() => window.localStorage.clear());

/** A service where the user has a role in the default project but none in Ops. */
function noRoleInOps() {
  const backend = fakeService('operator');
  const capabilities = backend.routes[CAPABILITIES]!;
  backend.routes[CAPABILITIES] = (r) =>
    r.params?.project === 'ops'
      ? reply({ error: { code: 'ROLE_TOO_LOW', message: "this needs the viewer role in project 'ops'" } }, 403)
      : capabilities(r);
  return backend;
}

const capabilityRequests = (backend: ReturnType<typeof fakeService>) =>
  backend.requests.filter((r) => r.url.endsWith('/capabilities')).map((r) => r.params);

/** The fake service, for a viewer, knowing no project `slug` (deleted, or renamed). */
function serviceWithoutProject(slug: string) {
  const backend = fakeService('viewer');
  const notFound = () =>
    reply({ error: { code: 'PROJECT_NOT_FOUND', message: `project '${slug}' not found` } }, 404) as never;
  for (const route of [`GET ${SERVICE_API_URL}/me`, CAPABILITIES]) {
    const found = backend.routes[route]!;
    backend.routes[route] = (r) => (r.params?.project === slug ? notFound() : found(r));
  }
}

describe('what the engines can do, in the project picked', () => {
  test('says why actions are missing when the capabilities are refused in this project', async () => {
    const backend = noRoleInOps();
    renderApp('/tasks/celery/f-1?project=ops');

    const notice = await screen.findByRole('alert', { name: 'Actions are unavailable' }, PAGE_LOAD);
    expect(notice).toHaveTextContent(/ROLE_TOO_LOW: this needs the viewer role in project 'ops'/);
    expect(capabilityRequests(backend)).toEqual([{ project: 'ops' }]);
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });

  test('asks again when the user picks another project, and the notice goes', async () => {
    const backend = noRoleInOps();
    const { user } = renderApp('/tasks?project=ops');
    await screen.findByRole('alert', { name: 'Actions are unavailable' }, PAGE_LOAD);

    await user.click(screen.getByRole('combobox', { name: 'Project' }));
    await user.keyboard('Default{ArrowDown}{Enter}');

    await waitFor(() => expect(capabilityRequests(backend).at(-1)).toEqual({ project: 'default' }));
    await waitFor(() =>
      expect(screen.queryByRole('alert', { name: 'Actions are unavailable' })).not.toBeInTheDocument()
    );
  });

  test("says why there are no actions where the service's brokers are another project's", async () => {
    const backend = fakeService('operator');
    const capabilities = backend.routes[CAPABILITIES]!;
    backend.routes[CAPABILITIES] = (r) =>
      r.params?.project === 'ops'
        ? reply({ engines: [], capabilities: [], brokersNotInProject: true })
        : capabilities(r);
    renderApp('/tasks/celery/f-1?project=ops');

    const notice = await screen.findByRole('status', { name: 'No actions in this project' }, PAGE_LOAD);
    expect(notice).toHaveTextContent(/Z4J_BROKER_PROJECTS/);
    expect(await screen.findByText("ValueError('card declined')", undefined, PAGE_LOAD)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });
});

describe('the role, in the project picked', () => {
  test("is not the previous project's while the new one's cannot be read: its actions go", async () => {
    const backend = fakeService('operator');
    const me = backend.routes[`GET ${SERVICE_API_URL}/me`]!;
    backend.routes[`GET ${SERVICE_API_URL}/me`] = (r) =>
      r.params?.project === 'ops' ? reply({ error: { code: 'INTERNAL', message: 'internal error' } }, 500) : me(r);
    const { user } = renderApp('/tasks');
    expect(await screen.findByRole('button', { name: /bulk actions/i }, PAGE_LOAD)).toBeInTheDocument();

    await user.click(screen.getByRole('combobox', { name: 'Project' }));
    await user.keyboard('Ops{ArrowDown}{Enter}');

    expect(await screen.findByRole('alert', { name: 'Actions are unavailable' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /bulk actions/i })).not.toBeInTheDocument();
  });
});

describe('the project, on every page', () => {
  test('one remembered from before is written into the URL, so a link copied from here opens it too', async () => {
    window.localStorage.setItem('z4j.lastProject', 'ops');
    const backend = fakeService('viewer');
    renderApp('/tasks?state=failed');

    await screen.findByRole('table', { name: 'Tasks' }, PAGE_LOAD);
    await waitFor(() => expect(location.current).toBe(`${PLUGIN_BASE_URL}/tasks?state=failed&project=ops`));
    expect(backend.requests.find((r) => r.url.endsWith('/api/tasks'))!.params).toMatchObject({ project: 'ops' });
  });

  test('is shown, and can be changed, on pages other than the explorer', async () => {
    fakeService('viewer');
    const { user } = renderApp('/workers?project=ops');
    const picker = await screen.findByRole('combobox', { name: 'Project' }, PAGE_LOAD);
    await waitFor(() => expect(picker).toHaveValue('Ops'));

    await user.click(picker);
    await user.keyboard('Default{ArrowDown}{Enter}');
    await waitFor(() => expect(location.current).toBe(`${PLUGIN_BASE_URL}/workers?project=default`));
  });

  test("is named on a task's page", async () => {
    fakeService('viewer');
    renderApp('/tasks/celery/f-1');
    expect(await screen.findByText('Project: Default', undefined, PAGE_LOAD)).toBeInTheDocument();
  });

  test('one remembered but since deleted is forgotten: the default project is shown, with a notice', async () => {
    window.localStorage.setItem('z4j.lastProject', 'gone');
    serviceWithoutProject('gone');
    renderApp('/workers');

    const notice = await screen.findByRole('status', { name: 'The project you last used is gone' }, PAGE_LOAD);
    expect(notice).toHaveTextContent('project "gone"');
    await waitFor(() => expect(location.current).toBe(`${PLUGIN_BASE_URL}/workers`));
    expect(window.localStorage.getItem('z4j.lastProject')).toBeNull();
    await waitFor(() =>
      expect(screen.queryByRole('alert', { name: 'Actions are unavailable' })).not.toBeInTheDocument()
    );
    expect(screen.getByText('celery@w1')).toBeInTheDocument();
  });

  test.each([
    ['nothing remembered', undefined, 'project default is shown instead'],
    ['another project remembered', 'ops', 'project "ops", the one you last used, is shown instead'],
  ])('one named by a link but unknown: %s, it is shown instead, with a notice', async (_what, remembered, shown) => {
    if (remembered) {
      window.localStorage.setItem('z4j.lastProject', remembered);
    }
    serviceWithoutProject('gone');
    renderApp('/workers?project=gone');

    const notice = await screen.findByRole('status', { name: 'The project in this link is gone' }, PAGE_LOAD);
    expect(notice).toHaveTextContent(`z4j does not know project "gone" (deleted, or renamed): ${shown}`);
    const expected = remembered ? `/workers?project=${remembered}` : '/workers';
    await waitFor(() => expect(location.current).toBe(`${PLUGIN_BASE_URL}${expected}`));
    expect(window.localStorage.getItem('z4j.lastProject')).toBe(remembered ?? null);
    await waitFor(() =>
      expect(screen.queryByRole('alert', { name: 'Actions are unavailable' })).not.toBeInTheDocument()
    );
  });
});

describe('the project picker', () => {
  test('when the projects cannot be read, says so under it and reads them again on Try again', async () => {
    const backend = fakeService('viewer');
    const route = `GET ${SERVICE_API_URL}/projects`;
    const projects = backend.routes[route]!;
    let down = true;
    backend.routes[route] = (r) =>
      down ? reply({ error: { code: 'UNAVAILABLE', message: 'the database is not answering' } }, 503) : projects(r);
    const { user } = renderApp('/workers');

    const failed = await screen.findByRole('alert', { name: 'Could not load projects' }, PAGE_LOAD);
    expect(failed).toHaveTextContent('the database is not answering');

    down = false;
    await user.click(within(failed).getByRole('button', { name: 'Try again' }));
    await waitFor(() =>
      expect(screen.queryByRole('alert', { name: 'Could not load projects' })).not.toBeInTheDocument()
    );
    await user.click(screen.getByRole('combobox', { name: 'Project' }));
    await user.keyboard('Ops{ArrowDown}{Enter}');
    await waitFor(() => expect(screen.getByRole('combobox', { name: 'Project' })).toHaveValue('Ops'));
  });
});
