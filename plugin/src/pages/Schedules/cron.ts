// A schedule's cron in words and the time zones it can be read in, for the list and the form.
import cronstrue from 'cronstrue';
import type { ComboboxOption } from '@grafana/ui';

/**
 * "At 02:00, only on Monday", or null when the cron cannot be read. A sixth field would be read
 * as seconds, which the service refuses: no words for it (the service says why).
 */
export function cronInWords(cron: string): string | null {
  const text = cron.trim();
  if (text === '' || (!text.startsWith('@') && text.split(/\s+/).length !== 5)) {
    return null;
  }
  try {
    return cronstrue.toString(text, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
  } catch {
    return null;
  }
}

let zones: Array<ComboboxOption<string>> | undefined;

/**
 * UTC, then every IANA zone this browser knows, each with its offset now; and `current` first
 * when the browser does not list it (an alias, or a zone its time zone data is too old for).
 */
export function timeZoneOptions(current?: string): Array<ComboboxOption<string>> {
  if (!zones) {
    const now = new Date();
    const offset = (timeZone: string) =>
      new Intl.DateTimeFormat('en', { timeZone, timeZoneName: 'longOffset' })
        .formatToParts(now)
        .find((p) => p.type === 'timeZoneName')?.value;
    const names = Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC');
    zones = ['UTC', ...names].map((zone) => ({ value: zone, label: zone, description: offset(zone) }));
  }
  return !current || zones.some((z) => z.value === current) ? zones : [{ value: current, label: current }, ...zones];
}
