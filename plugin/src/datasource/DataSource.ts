// The "z4j trends" data source for Grafana panels. It has no backend and no settings of its
// own: it reaches the service through the z4j app's proxy route, with the app's connection.
import {
  createDataFrame,
  DataSourceApi,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type TestDataSourceResponse,
} from '@grafana/data';
import { getServiceHealth, toApiRequestError } from '../api/client';
import type { TrendQuery, TrendsOptions } from './types';

export class DataSource extends DataSourceApi<TrendQuery, TrendsOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<TrendsOptions>) {
    super(instanceSettings);
  }

  async query(request: DataQueryRequest<TrendQuery>): Promise<DataQueryResponse> {
    // Trend series come with the service's rollup API; until then each query answers an empty frame.
    return { data: request.targets.map((target) => createDataFrame({ refId: target.refId, fields: [] })) };
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      const health = await getServiceHealth();
      return { status: 'success', message: `Connected: service ${health.version}, storage ${health.storage}` };
    } catch (e) {
      return { status: 'error', message: toApiRequestError(e).message };
    }
  }
}
