import React from 'react';
import type { QueryEditorProps } from '@grafana/data';
import { Combobox, type ComboboxOption, InlineField, InlineFieldRow, Input } from '@grafana/ui';
import { TREND_GROUPS, TREND_STATS, type TrendGroup, type TrendMetric, type TrendStat } from '../../api/types';
import type { DataSource } from '../DataSource';
import type { TrendQuery, TrendsOptions } from '../types';

const METRICS: Array<ComboboxOption<TrendMetric>> = [
  { value: 'count', label: 'Tasks', description: 'How many tasks were first seen in each bucket' },
  { value: 'runtime', label: 'Runtime', description: 'How long they ran (ms)' },
  { value: 'wait', label: 'Wait', description: 'How long they waited before they started (ms)' },
];
const STATS: Array<ComboboxOption<TrendStat>> = TREND_STATS.map((s) => ({ value: s, label: s }));
const GROUPS: Array<ComboboxOption<TrendGroup>> = TREND_GROUPS.map((g) => ({ value: g, label: g }));

/** The filters typed as text: applied when the field loses focus (dashboard variables allowed). */
const FILTERS: Array<{
  key: 'project' | 'engine' | 'state' | 'name' | 'queue' | 'worker';
  label: string;
  placeholder: string;
  tooltip?: string;
}> = [
  { key: 'state', label: 'State', placeholder: 'any, e.g. failed,retried', tooltip: 'Comma-separated states' },
  { key: 'engine', label: 'Engine', placeholder: 'any, e.g. celery', tooltip: 'Comma-separated engines' },
  { key: 'name', label: 'Task name', placeholder: 'any' },
  { key: 'queue', label: 'Queue', placeholder: 'any' },
  { key: 'worker', label: 'Worker', placeholder: 'any' },
  { key: 'project', label: 'Project', placeholder: 'the default', tooltip: "The project's slug" },
];

export function QueryEditor({ query, onChange, onRunQuery }: QueryEditorProps<DataSource, TrendQuery, TrendsOptions>) {
  const metric = query.metric ?? 'count';
  const apply = (changes: Partial<TrendQuery>) => {
    onChange({ ...query, ...changes });
    onRunQuery();
  };

  return (
    <>
      <InlineFieldRow>
        <InlineField label="Measure" labelWidth={12}>
          <Combobox
            id={`z4j-metric-${query.refId}`}
            options={METRICS}
            value={metric}
            onChange={(opt) =>
              apply({ metric: opt.value, stat: opt.value === 'count' ? undefined : (query.stat ?? 'p95') })
            }
            width={20}
          />
        </InlineField>
        {metric !== 'count' && (
          <InlineField label="Statistic" labelWidth={12}>
            <Combobox
              id={`z4j-stat-${query.refId}`}
              options={STATS}
              value={query.stat ?? 'p95'}
              onChange={(opt) => apply({ stat: opt.value })}
              width={12}
            />
          </InlineField>
        )}
        <InlineField label="Series by" labelWidth={14} tooltip="One series per value, the largest groups first">
          <Combobox
            id={`z4j-group-${query.refId}`}
            options={GROUPS}
            value={query.groupBy ?? null}
            placeholder="none"
            isClearable
            onChange={(opt) => apply({ groupBy: opt?.value ?? undefined })}
            width={16}
          />
        </InlineField>
        {query.groupBy && (
          <InlineField label="Series limit" labelWidth={14} tooltip="At most this many series, 1–50">
            <Input
              id={`z4j-limit-${query.refId}`}
              type="number"
              min={1}
              max={50}
              width={8}
              placeholder="10"
              defaultValue={query.limit ?? ''}
              onBlur={(e) => apply({ limit: e.currentTarget.value ? Number(e.currentTarget.value) : undefined })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      <InlineFieldRow>
        {FILTERS.map(({ key, label, placeholder, tooltip }) => (
          <InlineField key={key} label={label} labelWidth={12} tooltip={tooltip}>
            <Input
              id={`z4j-${key}-${query.refId}`}
              width={24}
              placeholder={placeholder}
              defaultValue={query[key] ?? ''}
              onBlur={(e) => {
                const value = e.currentTarget.value.trim() || undefined;
                if (value !== query[key]) {
                  apply({ [key]: value });
                }
              }}
            />
          </InlineField>
        ))}
      </InlineFieldRow>
    </>
  );
}
