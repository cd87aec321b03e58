import { dateTime, type DataQueryRequest, type DataSourceInstanceSettings, type ScopedVars } from '@grafana/data';
import { setTemplateSrv, type TemplateSrv } from '@grafana/runtime';
import { SERVICE_API_URL } from '../api/client';
import type { ServiceHealth, Trends } from '../api/types';
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

const TRENDS = `GET ${SERVICE_API_URL}/trends`;
const FROM = Date.UTC(2026, 11, 7, 12, 0);
const MIN = 60_000;

/** Dashboard variables: $queue is one value, $states two (a multi-value variable). */
function setVariables() {
  const values: Record<string, string[]> = { queue: ['high'], states: ['failed', 'retried'] };
  setTemplateSrv({
    replace: (target?: string, _scoped?: ScopedVars, format?: string | Function) =>
      (target ?? '').replace(/\$(\w+)/g, (all, name: string) =>
        values[name] ? values[name]!.join(format === 'csv' ? ',' : ' ') : all
      ),
  } as unknown as TemplateSrv);
}

function request(targets: TrendQuery[], extra: Partial<DataQueryRequest<TrendQuery>> = {}) {
  return {
    targets,
    range: { from: dateTime(FROM), to: dateTime(FROM + 3 * MIN), raw: { from: 'now-3m', to: 'now' } },
    intervalMs: 15_000,
    maxDataPoints: 800,
    scopedVars: {},
    ...extra,
  } as unknown as DataQueryRequest<TrendQuery>;
}

const trends = (over: Partial<Trends> = {}): Trends => ({
  intervalMs: MIN,
  metric: 'count',
  stat: null,
  truncated: false,
  series: [
    {
      labels: {},
      points: [
        [FROM, 10],
        [FROM + MIN, 0],
        [FROM + 2 * MIN, 3],
      ],
    },
  ],
  ...over,
});

beforeEach(setVariables);

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

  test("asks the service for the panel's range and resolution, with the query's variables replaced", async () => {
    const backend = setupBackend({ [TRENDS]: () => reply(trends()) });

    await new DataSource(instanceSettings).query(
      request([
        { refId: 'A', metric: 'runtime', stat: 'p99', groupBy: 'queue', limit: 5, queue: '$queue', state: '$states' },
        { refId: 'B', stat: 'p99', name: '  ', project: 'ops' },
        { refId: 'C', hide: true },
      ])
    );

    expect(backend.requests.map((r) => r.params)).toEqual([
      {
        from: FROM,
        to: FROM + 3 * MIN,
        intervalMs: 15_000,
        maxPoints: 800,
        metric: 'runtime',
        stat: 'p99',
        groupBy: 'queue',
        limit: 5,
        queue: 'high',
        state: 'failed,retried',
      },
      // A count takes no statistic; an empty filter is left out; a hidden query is not asked.
      { from: FROM, to: FROM + 3 * MIN, intervalMs: 15_000, maxPoints: 800, metric: 'count', project: 'ops' },
    ]);
  });

  test('keeps what the service can take of the resolution', async () => {
    const backend = setupBackend({ [TRENDS]: () => reply(trends()) });

    await new DataSource(instanceSettings).query(request([{ refId: 'A' }], { intervalMs: 20, maxDataPoints: 100_000 }));

    expect(backend.requests[0]!.params).toMatchObject({ intervalMs: 1000, maxPoints: 2000 });
  });

  test('answers a time series per group, named by it, in the unit of what it measures', async () => {
    setupBackend({
      [TRENDS]: () =>
        reply(
          trends({
            metric: 'runtime',
            stat: 'p95',
            series: [
              {
                labels: { queue: 'high' },
                points: [
                  [FROM, 120.5],
                  [FROM + MIN, null],
                ],
              },
              {
                labels: { queue: '' },
                points: [
                  [FROM, 8],
                  [FROM + MIN, 9],
                ],
              },
            ],
          })
        ),
    });

    const { data, errors } = await new DataSource(instanceSettings).query(
      request([{ refId: 'A', metric: 'runtime', groupBy: 'queue' }])
    );

    expect(errors).toBeUndefined();
    expect(data.map((f) => [f.refId, f.name])).toEqual([
      ['A', 'high'],
      ['A', '(none)'],
    ]);
    const [time, value] = data[0].fields;
    expect(time).toMatchObject({ name: 'Time', type: 'time', values: [FROM, FROM + MIN], config: { interval: MIN } });
    expect(value).toMatchObject({
      name: 'runtime p95',
      type: 'number',
      values: [120.5, null],
      labels: { queue: 'high' },
      config: { displayNameFromDS: 'high', unit: 'ms' },
    });
    expect(data[0].meta).toBeUndefined();
  });

  test('a count is in plain numbers, and says when groups were left out', async () => {
    setupBackend({
      [TRENDS]: () =>
        reply(trends({ truncated: true, series: [{ labels: { state: 'failed' }, points: [[FROM, 4]] }] })),
    });

    const { data } = await new DataSource(instanceSettings).query(
      request([{ refId: 'A', groupBy: 'state', limit: 1 }])
    );

    expect(data[0].fields[1]).toMatchObject({ name: 'tasks', config: { displayNameFromDS: 'failed', unit: 'short' } });
    expect(data[0].meta.notices).toEqual([
      {
        severity: 'info',
        text: 'Only the 1 groups with the most tasks are shown: raise the series limit to see more.',
      },
    ]);
  });

  test('a query without tasks answers an empty frame (the panel says No data)', async () => {
    setupBackend({ [TRENDS]: () => reply(trends({ series: [] })) });

    const { data } = await new DataSource(instanceSettings).query(request([{ refId: 'A', groupBy: 'name' }]));

    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ refId: 'A', length: 0 });
  });

  test("a query the service refuses shows the service's reason on that query; the others are answered", async () => {
    setupBackend({
      [TRENDS]: (r) =>
        r.params?.limit === 99
          ? reply({ error: { code: 'BAD_REQUEST', message: 'limit: Too big: expected number to be <=50' } }, 400)
          : reply(trends()),
    });

    const { data, errors } = await new DataSource(instanceSettings).query(
      request([{ refId: 'A', groupBy: 'name', limit: 99 }, { refId: 'B' }])
    );

    expect(errors).toEqual([
      { refId: 'A', message: 'The service answered 400 BAD_REQUEST: limit: Too big: expected number to be <=50' },
    ]);
    expect(data.map((f) => f.refId)).toEqual(['B']);
  });
});
