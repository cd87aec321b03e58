// The "z4j trends" data source for Grafana panels. It has no backend and no settings of its
// own: it reaches the service through the z4j app's proxy route, with the app's connection.
import {
  createDataFrame,
  DataSourceApi,
  type QueryResultMetaNotice,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type TestDataSourceResponse,
} from '@grafana/data';
import { getServiceHealth, toApiRequestError } from '../api/client';
import type { TrendQuery, TrendsOptions } from './types';

export const NO_TRENDS_NOTICE: QueryResultMetaNotice = {
  severity: 'info',
  text: 'z4j trends are not available yet: the service has no trend API. Use the z4j app pages (Tasks, Workers, Queues).',
};

export class DataSource extends DataSourceApi<TrendQuery, TrendsOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<TrendsOptions>) {
    super(instanceSettings);
  }

  async query(request: DataQueryRequest<TrendQuery>): Promise<DataQueryResponse> {
    // The service has no trend endpoint yet: each query answers an empty frame whose notice
    // tells the panel why, instead of a bare "No data".
    return {
      data: request.targets.map((target) =>
        createDataFrame({ refId: target.refId, fields: [], meta: { notices: [NO_TRENDS_NOTICE] } })
      ),
    };
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
