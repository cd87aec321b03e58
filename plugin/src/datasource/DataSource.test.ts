import type { DataQueryRequest, DataSourceInstanceSettings } from '@grafana/data';
import { SERVICE_API_URL } from '../api/client';
import type { ServiceHealth } from '../api/types';
import { reply, setupBackend } from '../test/backend';
import { DataSource } from './DataSource';
import type { TrendQuery, TrendsOptions } from './types';

const instanceSettings = {
  id: 1,
  uid: 'z4j-trends',
  type: 'z4j-taskqueue-datasource',
  name: 'z4j trends',
  jsonData: {},
} as unknown as DataSourceInstanceSettings<TrendsOptions>;

describe('DataSource', () => {
  test('the connection test reports the service version and storage', async () => {
    setupBackend({
      [`GET ${SERVICE_API_URL}/healthz`]: () =>
        reply<ServiceHealth>({ status: 'ok', version: '0.1.0', storage: 'postgres' }),
    });

    await expect(new DataSource(instanceSettings).testDatasource()).resolves.toEqual({
      status: 'success',
      message: 'Connected: service 0.1.0, storage postgres',
    });
  });

  test('the connection test says why it failed', async () => {
    setupBackend({ [`GET ${SERVICE_API_URL}/healthz`]: () => reply({ message: 'Plugin not found' }, 404) });

    await expect(new DataSource(instanceSettings).testDatasource()).resolves.toEqual({
      status: 'error',
      message: 'Request failed with HTTP 404: Plugin not found',
    });
  });

  test('each query answers an empty frame whose notice says why a panel has no data', async () => {
    const request = { targets: [{ refId: 'A' }, { refId: 'B' }] } as DataQueryRequest<TrendQuery>;

    const { data } = await new DataSource(instanceSettings).query(request);

    expect(data.map((frame) => frame.refId)).toEqual(['A', 'B']);
    for (const frame of data) {
      expect(frame.length).toBe(0);
      expect(frame.meta.notices).toEqual([
        {
          severity: 'info',
          text: expect.stringMatching(/^z4j trends are not available yet: the service has no trend API/),
        },
      ]);
    }
  });
});
