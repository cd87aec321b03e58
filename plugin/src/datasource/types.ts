import type { DataQuery, DataSourceJsonData } from '@grafana/schema';

/** A trend panel query. Its fields arrive with the service's rollup API. */
export type TrendQuery = DataQuery;

/** The data source keeps no settings of its own: it uses the z4j app's connection. */
export type TrendsOptions = DataSourceJsonData;
