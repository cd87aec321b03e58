import type { DataQuery, DataSourceJsonData } from '@grafana/schema';
import type { TrendGroup, TrendMetric, TrendStat } from '../api/types';

/**
 * A trend panel query: what to measure of the tasks first seen in each bucket, optionally one
 * series per group, and the explorer's filters. Text fields take dashboard variables ($queue).
 */
export interface TrendQuery extends DataQuery {
  metric?: TrendMetric;
  /** For runtime and wait (default p95). */
  stat?: TrendStat;
  groupBy?: TrendGroup;
  /** Most series (default 10): the groups with the most tasks. */
  limit?: number;
  /** The project's slug; empty: the service's default project. */
  project?: string;
  /** Comma-separated engines / states, as the explorer takes them. */
  engine?: string;
  state?: string;
  name?: string;
  queue?: string;
  worker?: string;
}

export const DEFAULT_QUERY: Partial<TrendQuery> = { metric: 'count' };

/** The data source keeps no settings of its own: it uses the z4j app's connection. */
export type TrendsOptions = DataSourceJsonData;
