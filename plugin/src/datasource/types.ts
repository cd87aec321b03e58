import type { DataQuery, DataSourceJsonData } from '@grafana/schema';

/** A trend panel query. It has no fields of its own: the service has no trend API yet. */
export type TrendQuery = DataQuery;

/** The data source keeps no settings of its own: it uses the z4j app's connection. */
export type TrendsOptions = DataSourceJsonData;
