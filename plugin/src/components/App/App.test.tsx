import React from 'react';
import { screen } from '@testing-library/react';
import { AppRootProps, PluginType } from '@grafana/data';
import pluginJson from '../../plugin.json';
import { PLUGIN_BASE_URL, PLUGIN_CONFIG_URL, ROUTES } from '../../constants';
import { render } from '../../test/render';
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

const expectedText: Record<ROUTES, RegExp> = {
  [ROUTES.Tasks]: /every task seen on your queues/i,
  [ROUTES.Workers]: /every worker of every engine/i,
  [ROUTES.Queues]: /every queue with its depth/i,
  [ROUTES.Schedules]: /periodic and one-off schedules/i,
  [ROUTES.Audit]: /tamper-evident log/i,
  [ROUTES.Settings]: /project settings/i,
};

describe('App', () => {
  test('every page in the navigation has a route, and every route a page in the navigation', () => {
    expect(navPages.map((page) => page.path).sort()).toEqual(Object.values(ROUTES).sort());
  });

  test('opens on the Tasks page', async () => {
    render(<App {...props} />);

    expect(await screen.findByText(expectedText[ROUTES.Tasks], undefined, PAGE_LOAD)).toBeInTheDocument();
  });

  test.each(navPages)('shows the $name page at its path', async ({ path }) => {
    render(<App {...props} />, { route: `/${path}` });

    expect(await screen.findByText(expectedText[path as ROUTES], undefined, PAGE_LOAD)).toBeInTheDocument();
  });

  test('links from Settings to the connection settings', async () => {
    render(<App {...props} />, { route: `/${ROUTES.Settings}` });

    const link = await screen.findByRole('link', { name: /connection to the z4j service/i }, PAGE_LOAD);
    expect(link).toHaveAttribute('href', PLUGIN_CONFIG_URL);
  });
});
