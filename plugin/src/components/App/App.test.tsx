import React from 'react';
import { screen } from '@testing-library/react';
import { AppRootProps, PluginType } from '@grafana/data';
import pluginJson from '../../plugin.json';
import { PLUGIN_BASE_URL, ROUTES } from '../../constants';
import { render } from '../../test/render';
import { fakeService } from '../../test/fakeService';
import type { AppSettings } from '../../api/types';
import App from './App';

// Pages are lazy-loaded chunks: on a busy CI machine the first one can take seconds
// (jest.config.js gives each test 20 s).
const PAGE_LOAD = { timeout: 10_000 };

const props = {
  basename: PLUGIN_BASE_URL,
  meta: { id: pluginJson.id, name: pluginJson.name, type: PluginType.app, enabled: true, jsonData: {} },
  query: {},
  path: '',
  onNavChanged: jest.fn(),
} as unknown as AppRootProps<AppSettings>;

const navPages = pluginJson.includes
  .filter((include) => include.type === 'page')
  .map((include) => ({ name: include.name, path: include.path?.replace('/a/%PLUGIN_ID%/', '') ?? '' }));

/** Something each page shows only once it has loaded its data from the (fake) service. */
const expectedText: Record<ROUTES, RegExp> = {
  [ROUTES.Tasks]: /etl\.transform/,
  [ROUTES.Workers]: /celery@w1/,
  [ROUTES.Queues]: /depth measured/i,
  [ROUTES.Schedules]: /billing\.tasks\.close_day/,
  [ROUTES.Audit]: /audit chain verified/i,
  [ROUTES.Settings]: /alice/,
  [ROUTES.Invitation]: /no invitation token/i,
};

describe('App', () => {
  beforeEach(() => fakeService('admin'));

  test('every page in plugin.json has a route, and every route a page in plugin.json', () => {
    expect(navPages.map((page) => page.path).sort()).toEqual(Object.values(ROUTES).sort());
  });

  test('opens on the Tasks page', async () => {
    render(<App {...props} />);
    expect(await screen.findByText(expectedText[ROUTES.Tasks], undefined, PAGE_LOAD)).toBeInTheDocument();
  });

  test.each(navPages)('shows the $name page at its path', async ({ path }) => {
    render(<App {...props} />, { route: `/${path}` });
    expect((await screen.findAllByText(expectedText[path as ROUTES], undefined, PAGE_LOAD))[0]).toBeInTheDocument();
  });
});
