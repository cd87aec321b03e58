// The "z4j trends" data source for Grafana panels: tasks per time bucket from the service's
// /api/trends. It has no backend and no settings of its own: it reaches the service through the
// z4j app's proxy route, with the app's connection.
import {
  createDataFrame,
  DataSourceApi,
  FieldType,
  type DataFrame,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type ScopedVars,
  type TestDataSourceResponse,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { getServiceHealth, toApiRequestError } from '../api/client';
import { getTrends } from '../api/service';
import type { Trends, TrendsParams } from '../api/types';
import { DEFAULT_QUERY, type TrendQuery, type TrendsOptions } from './types';

/** The service's most buckets per series. */
const MAX_POINTS = 2000;

/** The text fields of a query, where dashboard variables are replaced. */
const TEXT_FIELDS = ['project', 'engine', 'state', 'name', 'queue', 'worker'] as const;

export class DataSource extends DataSourceApi<TrendQuery, TrendsOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<TrendsOptions>) {
    super(instanceSettings);
  }

  getDefaultQuery(): Partial<TrendQuery> {
    return DEFAULT_QUERY;
  }

  async query(request: DataQueryRequest<TrendQuery>): Promise<DataQueryResponse> {
    const targets = request.targets.filter((target) => !target.hide);
    const answers = await Promise.all(
      targets.map(async (target) => {
        try {
          return { frames: toFrames(target, await getTrends(trendsParams(request, target))) };
        } catch (e) {
          // Shown on the panel, by its query: the service's message says what to change.
          return { error: { refId: target.refId, message: toApiRequestError(e).message } };
        }
      })
    );
    const errors = answers.flatMap((a) => (a.error ? [a.error] : []));
    return { data: answers.flatMap((a) => a.frames ?? []), ...(errors.length ? { errors } : {}) };
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

/** What the service is asked for one query: the panel's range and resolution, the query's fields with variables replaced. */
export function trendsParams(request: DataQueryRequest<TrendQuery>, target: TrendQuery): TrendsParams {
  const text: Partial<Record<(typeof TEXT_FIELDS)[number], string>> = {};
  for (const field of TEXT_FIELDS) {
    const value = interpolate(target[field], request.scopedVars);
    if (value) {
      text[field] = value;
    }
  }
  const metric = target.metric ?? 'count';
  return {
    ...text,
    from: request.range.from.valueOf(),
    to: request.range.to.valueOf(),
    intervalMs: Math.max(1000, Math.round(request.intervalMs || 60_000)),
    maxPoints: Math.min(MAX_POINTS, Math.max(1, Math.round(request.maxDataPoints || 1000))),
    metric,
    stat: metric === 'count' ? undefined : target.stat,
    groupBy: target.groupBy,
    limit: target.limit,
  };
}

function interpolate(value: string | undefined, scopedVars: ScopedVars): string | undefined {
  // A multi-value variable becomes the comma list the service takes for engines and states.
  return value ? getTemplateSrv().replace(value, scopedVars, 'csv').trim() : undefined;
}

/** One frame per series, named by its group (or by what it measures), with the unit Grafana formats. */
export function toFrames(target: TrendQuery, trends: Trends): DataFrame[] {
  const what = trends.metric === 'count' ? 'tasks' : `${trends.metric} ${trends.stat}`;
  const notices = trends.truncated
    ? [
        {
          severity: 'info' as const,
          text: `Only the ${trends.series.length} groups with the most tasks are shown: raise the series limit to see more.`,
        },
      ]
    : undefined;
  if (trends.series.length === 0) {
    return [createDataFrame({ refId: target.refId, fields: [] })];
  }
  return trends.series.map((series, i) => {
    // Named by its group ("" for tasks without one), or by what it measures when ungrouped.
    const group = Object.values(series.labels)[0];
    const name = group === undefined ? what : group || '(none)';
    return createDataFrame({
      refId: target.refId,
      name,
      meta: i === 0 && notices ? { notices } : undefined,
      fields: [
        {
          name: 'Time',
          type: FieldType.time,
          values: series.points.map(([at]) => at),
          config: { interval: trends.intervalMs },
        },
        {
          name: what,
          type: FieldType.number,
          values: series.points.map(([, value]) => value),
          labels: series.labels as Record<string, string>,
          config: {
            displayNameFromDS: name,
            unit: trends.metric === 'count' ? 'short' : 'ms',
          },
        },
      ],
    });
  });
}
