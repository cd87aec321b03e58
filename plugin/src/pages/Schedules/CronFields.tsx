// A schedule's cron and time zone: the cron in words as it is typed, and the next runs the
// service computes for it (asked once typing pauses), or the service's reason it cannot read them.
import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Combobox, Field, Input, Text, useStyles2 } from '@grafana/ui';
import { previewSchedule } from '../../api/service';
import { useAsync } from '../../hooks/useAsync';
import { useDebounced } from '../../hooks/useDebounced';
import { useSession } from '../../hooks/useSession';
import { formatMinute } from '../../utils/format';
import { cronInWords, timeZoneOptions } from './cron';

/** How long typing must pause before the preview is asked for. */
export const PREVIEW_DEBOUNCE_MS = 400;
const PREVIEW_COUNT = 5;

interface Props {
  cron: string;
  timezone: string;
  onCron: (cron: string) => void;
  onTimezone: (timezone: string) => void;
  /** Why the service refused the cron or the zone on save (its message). */
  refused?: { cron?: string; timezone?: string };
}

export function CronFields({ cron, timezone, onCron, onTimezone, refused = {} }: Props) {
  const styles = useStyles2(getStyles);
  const { project } = useSession();
  // Strings, not one object: a new object each render would restart the wait for ever.
  const asked = {
    cron: useDebounced(cron.trim(), PREVIEW_DEBOUNCE_MS),
    timezone: useDebounced(timezone, PREVIEW_DEBOUNCE_MS),
  };
  const preview = useAsync(
    () => (asked.cron ? previewSchedule(asked.cron, asked.timezone, PREVIEW_COUNT, project) : Promise.resolve(null)),
    [asked.cron, asked.timezone, project]
  );
  // The preview's refusal is for what was typed a moment ago: shown only while it still is.
  const current = asked.cron === cron.trim() && asked.timezone === timezone;
  const said = (code: string) =>
    current && preview.error?.code === code ? (preview.error.serviceMessage ?? preview.error.message) : undefined;
  const cronError = refused.cron ?? said('INVALID_CRON');
  const timezoneError = refused.timezone ?? said('UNKNOWN_TIMEZONE');
  const otherError = current && preview.error && !cronError && !timezoneError ? preview.error.message : undefined;
  const words = cronInWords(cron);

  return (
    <>
      <Field
        label="Cron"
        description={
          words
            ? `${words} (${timezone})`
            : 'Five fields: minute hour day-of-month month day-of-week, e.g. 0 2 * * 1-5; or @hourly, @daily, @weekly, @monthly, @yearly.'
        }
        invalid={Boolean(cronError)}
        error={cronError}
      >
        <Input
          id="schedule-cron"
          value={cron}
          placeholder="0 2 * * *"
          onChange={(e) => onCron(e.currentTarget.value)}
        />
      </Field>
      <Field
        label="Time zone"
        description="The cron is read in this zone, daylight saving included."
        invalid={Boolean(timezoneError)}
        error={timezoneError}
      >
        <Combobox
          id="schedule-timezone"
          options={timeZoneOptions(timezone)}
          value={timezone}
          createCustomValue
          onChange={(o) => onTimezone(String(o.value))}
        />
      </Field>
      <section aria-label="Next runs" className={styles.preview}>
        <Text variant="bodySmall" color="secondary" element="h4">
          Next runs, in your time zone
        </Text>
        {!asked.cron ? (
          <Text color="secondary" italic>
            Type a cron to see when it runs.
          </Text>
        ) : otherError ? (
          <Text color="warning">Could not preview: {otherError}</Text>
        ) : preview.value && !cronError && !timezoneError ? (
          <ol className={styles.list}>
            {preview.value.next.map((iso) => {
              const here = formatMinute(iso);
              const there = formatMinute(iso, timezone);
              return (
                <li key={iso}>
                  {here}
                  {there !== here && (
                    <Text color="secondary">
                      {' '}
                      · {there.slice(11)} in {timezone}
                    </Text>
                  )}
                </li>
              );
            })}
          </ol>
        ) : preview.loading ? (
          <Text color="secondary">…</Text>
        ) : null}
      </section>
    </>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  preview: css({ marginBottom: theme.spacing(2) }),
  list: css({ margin: theme.spacing(0.5, 0, 0, 2.5), fontVariantNumeric: 'tabular-nums' }),
});
