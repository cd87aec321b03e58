// The app as Grafana mounts it, for journeys that start at a page of their own.
import React from 'react';
import { AppRootProps, PluginType } from '@grafana/data';
import pluginJson from '../plugin.json';
import { PLUGIN_BASE_URL } from '../constants';
import type { AppSettings } from '../api/types';
import App from '../components/App/App';
import { render } from './render';

/** Pages are lazy chunks: the first one can take seconds on a busy CI machine. */
export const PAGE_LOAD = { timeout: 10_000 };

const props = {
  basename: PLUGIN_BASE_URL,
  meta: { id: pluginJson.id, name: pluginJson.name, type: PluginType.app, enabled: true, jsonData: {} },
} as unknown as AppRootProps<AppSettings>;

/** Renders the whole app at `route` (inside the app, e.g. `/tasks?state=failed`). */
export function renderApp(route: string) {
  return render(<App {...props} />, { route });
}
