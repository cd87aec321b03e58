import React from 'react';
import { screen } from '@testing-library/react';
import { PluginType } from '@grafana/data';
import { PLUGIN_SETTINGS_URL, SERVICE_API_URL } from '../../api/client';
import type { ServiceErrorBody, ServiceHealth } from '../../api/types';
import { reply, setupBackend } from '../../test/backend';
import { render } from '../../test/render';
import { reloadPage } from '../../utils/reloadPage';
import AppConfig, { AppConfigProps } from './AppConfig';

// jsdom cannot reload a page; the test checks that a reload was asked for.
jest.mock('../../utils/reloadPage');

const HEALTH = `GET ${SERVICE_API_URL}/healthz`;
const SAVE = `POST ${PLUGIN_SETTINGS_URL}`;

function renderConfig(meta: Partial<AppConfigProps['plugin']['meta']> = {}) {
  const props = {
    plugin: {
      meta: {
        id: 'z4j-taskqueue-app',
        name: 'z4j',
        type: PluginType.app,
        enabled: true,
        pinned: true,
        jsonData: {},
        ...meta,
      },
    },
    query: {},
  } as unknown as AppConfigProps;
  return render(<AppConfig {...props} />);
}

const serviceUrlField = () => screen.getByRole('textbox', { name: /service url/i });
const proxySecretField = () => screen.getByLabelText(/proxy secret/i);
const saveButton = () => screen.getByRole('button', { name: /save settings/i });
const testButton = () => screen.getByRole('button', { name: /test connection/i });

describe('AppConfig', () => {
  beforeEach(() => {
    jest.mocked(reloadPage).mockReset();
  });

  test('saves the service URL and a new proxy secret, then reloads the page', async () => {
    const backend = setupBackend({ [SAVE]: () => reply({ message: 'Plugin settings updated' }) });
    const { user } = renderConfig();

    expect(serviceUrlField()).toHaveValue('http://localhost:8080');
    await user.clear(serviceUrlField());
    await user.type(serviceUrlField(), 'http://z4j-service:8080/');
    await user.type(proxySecretField(), 's3cret');
    await user.click(saveButton());

    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]).toMatchObject({
      url: PLUGIN_SETTINGS_URL,
      method: 'POST',
      data: {
        enabled: true,
        pinned: true,
        jsonData: { serviceUrl: 'http://z4j-service:8080' },
        secureJsonData: { proxySecret: 's3cret' },
      },
    });
    expect(reloadPage).toHaveBeenCalledTimes(1);
  });

  test('keeps the stored proxy secret when only the service URL changes', async () => {
    const backend = setupBackend({ [SAVE]: () => reply({ message: 'Plugin settings updated' }) });
    const { user } = renderConfig({
      jsonData: { serviceUrl: 'http://old-host:8080' },
      secureJsonFields: { proxySecret: true },
    });

    expect(proxySecretField()).toHaveValue('configured');
    await user.clear(serviceUrlField());
    await user.type(serviceUrlField(), 'http://new-host:8080');
    await user.click(saveButton());

    expect(backend.requests[0].data).toEqual({
      enabled: true,
      pinned: true,
      jsonData: { serviceUrl: 'http://new-host:8080' },
      secureJsonData: undefined,
    });
  });

  test('replaces the proxy secret after a reset', async () => {
    const backend = setupBackend({ [SAVE]: () => reply({ message: 'Plugin settings updated' }) });
    const { user } = renderConfig({
      jsonData: { serviceUrl: 'http://z4j:8080' },
      secureJsonFields: { proxySecret: true },
    });

    await user.click(screen.getByRole('button', { name: /reset/i }));
    expect(saveButton()).toBeDisabled();
    await user.type(proxySecretField(), 'rotated');
    await user.click(saveButton());

    expect(backend.requests[0].data.secureJsonData).toEqual({ proxySecret: 'rotated' });
  });

  test('does not save an invalid service URL or without a proxy secret', async () => {
    setupBackend({});
    const { user } = renderConfig();

    expect(saveButton()).toBeDisabled();
    await user.type(proxySecretField(), 's3cret');
    expect(saveButton()).toBeEnabled();

    await user.clear(serviceUrlField());
    await user.type(serviceUrlField(), 'z4j-service');
    expect(screen.getByText(/enter a full url/i)).toBeInTheDocument();
    expect(saveButton()).toBeDisabled();
  });

  test('tests the connection and shows the service version and storage', async () => {
    const backend = setupBackend({
      [HEALTH]: () => reply<ServiceHealth>({ status: 'ok', version: '0.1.0', storage: 'pglite', engines: [] }),
    });
    const { user } = renderConfig({
      jsonData: { serviceUrl: 'http://z4j:8080' },
      secureJsonFields: { proxySecret: true },
    });

    await user.click(testButton());

    expect(await screen.findByText('Connected: service 0.1.0, storage pglite')).toBeInTheDocument();
    expect(backend.requests).toEqual([
      expect.objectContaining({
        url: '/api/plugin-proxy/z4j-taskqueue-app/api/healthz',
        method: 'GET',
        showErrorAlert: false,
      }),
    ]);
  });

  test('tells which engines are reporting, or that none has yet', async () => {
    const seen = new Date(Date.now() - 2 * 60_000).toISOString();
    setupBackend({
      [HEALTH]: () =>
        reply<ServiceHealth>({
          status: 'ok',
          version: '0.1.0',
          storage: 'postgres',
          engines: [
            { engine: 'celery', lastSeenAt: seen },
            { engine: 'rq', lastSeenAt: seen },
          ],
        }),
    });
    const { user } = renderConfig({
      jsonData: { serviceUrl: 'http://z4j:8080' },
      secureJsonFields: { proxySecret: true },
    });
    await user.click(testButton());
    expect(await screen.findByText(/engines reporting: celery \(last seen 2 minutes ago\), rq/i)).toBeInTheDocument();
  });

  test("shows the service's error when it refuses the proxy secret", async () => {
    setupBackend({
      [HEALTH]: () =>
        reply<ServiceErrorBody>(
          { error: { code: 'PROXY_SECRET_INVALID', message: 'missing or wrong proxy secret' } },
          401
        ),
    });
    const { user } = renderConfig();

    await user.click(testButton());

    expect(await screen.findByText('Connection failed')).toBeInTheDocument();
    expect(
      screen.getByText('The service answered 401 PROXY_SECRET_INVALID: missing or wrong proxy secret')
    ).toBeInTheDocument();
  });

  test('explains when Grafana cannot reach the service', async () => {
    setupBackend({ [HEALTH]: () => reply('', 502) });
    const { user } = renderConfig();

    await user.click(testButton());

    expect(await screen.findByText(/grafana could not reach the service \(http 502\)/i)).toBeInTheDocument();
    expect(screen.getByText(/check the service url/i)).toBeInTheDocument();
  });

  test('says so when the service URL answers with something else than z4j', async () => {
    setupBackend({ [HEALTH]: () => reply('<html>Welcome to nginx</html>') });
    const { user } = renderConfig();

    await user.click(testButton());

    expect(await screen.findByText(/answered, but not like a z4j service/i)).toBeInTheDocument();
  });
});
