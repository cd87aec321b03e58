// The explorer's filter bar. Every change rewrites the URL; the page reads its filters back
// from there, so back/forward and shared links work.
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2, type TimeRange } from '@grafana/data';
import { useTimeZone } from '../../hooks/useTimeZone';
import { Combobox, Field, MultiCombobox, Stack, TimeRangePicker, useStyles2, type ComboboxOption } from '@grafana/ui';
import { listTaskNames } from '../../api/service';
import { ENGINES, TASK_STATES } from '../../api/types';
import { useSession } from '../../hooks/useSession';
import { CommitInput } from '../../components/common/CommitInput';
import { fromTimeRange, shiftRange, toTimeRange, zoomOutRange, type TaskFilterValues } from './filters';

const engineOptions = ENGINES.map((e) => ({ value: e, label: e }));
const stateOptions = TASK_STATES.map((s) => ({ value: s, label: s }));

/** Filters typed as text, applied on Enter or when leaving the field. */
const TEXT_FILTERS: Array<{ key: 'queue' | 'worker' | 'q'; label: string; placeholder: string; width: number }> = [
  { key: 'queue', label: 'Queue', placeholder: 'Any queue', width: 18 },
  { key: 'worker', label: 'Worker', placeholder: 'Any worker', width: 22 },
  { key: 'q', label: 'Search', placeholder: 'Id, name or argument text', width: 28 },
];

interface Props {
  filters: TaskFilterValues;
  onChange: (next: TaskFilterValues) => void;
}

export function TaskFilters({ filters, onChange }: Props) {
  const styles = useStyles2(getStyles);
  const { project } = useSession();
  const set = (patch: Partial<TaskFilterValues>) => onChange({ ...filters, ...patch });
  const { timeZone, setTimeZone } = useTimeZone();
  const range = toTimeRange(filters, timeZone);
  const loadNames = async (input: string): Promise<Array<ComboboxOption<string>>> => {
    const { names } = await listTaskNames(input, project);
    return names.map((n) => ({ value: n, label: n }));
  };

  return (
    <div className={styles.bar} role="search" aria-label="Task filters">
      <Stack gap={1} wrap="wrap" alignItems="flex-end">
        <Field label="Engine" className={styles.field}>
          <MultiCombobox
            id="filter-engine"
            placeholder="All engines"
            options={engineOptions}
            value={filters.engine}
            onChange={(opts) => set({ engine: opts.map((o) => String(o.value)) })}
            width={24}
          />
        </Field>
        <Field label="State" className={styles.field}>
          <MultiCombobox
            id="filter-state"
            placeholder="All states"
            options={stateOptions}
            value={filters.state}
            onChange={(opts) => set({ state: opts.map((o) => String(o.value)) })}
            width={28}
          />
        </Field>
        <Field label="Task name" className={styles.field}>
          <Combobox
            id="filter-name"
            placeholder="Any task"
            options={loadNames}
            value={filters.name ?? null}
            isClearable
            createCustomValue
            onChange={(opt) => set({ name: opt ? String(opt.value) : undefined })}
            width={36}
          />
        </Field>
        {TEXT_FILTERS.map((f) => (
          <Field key={f.key} label={f.label} className={styles.field}>
            <CommitInput
              id={`filter-${f.key}`}
              value={filters[f.key]}
              placeholder={f.placeholder}
              onCommit={(v) => set({ [f.key]: v })}
              width={f.width}
            />
          </Field>
        ))}
        <Field label="Time range" className={styles.field}>
          <TimeRangePicker
            value={range}
            timeZone={timeZone}
            onChange={(r: TimeRange) => set(fromTimeRange(r))}
            onChangeTimeZone={setTimeZone}
            onMoveBackward={() => set(shiftRange(range, -1))}
            onMoveForward={() => set(shiftRange(range, 1))}
            onZoom={() => set(zoomOutRange(range))}
          />
        </Field>
      </Stack>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  bar: css({ marginBottom: theme.spacing(2) }),
  field: css({ marginBottom: 0, '& > div': { marginBottom: 0 } }),
});
