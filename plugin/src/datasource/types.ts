import type { DataQuery, DataSourceJsonData } from '@grafana/schema';
import type { TrendSelection } from '../api/types';

/**
 * A trend panel query: what to measure of the tasks first seen in each bucket, optionally one
 * series per group, and the explorer's filters. Text fields take dashboard variables ($queue).
 */
export interface TrendQuery extends DataQuery, TrendSelection {}

export const DEFAULT_QUERY: Partial<TrendQuery> = { metric: 'count' };

/** The data source keeps no settings of its own: it uses the z4j app's connection. */
export type TrendsOptions = DataSourceJsonData;
