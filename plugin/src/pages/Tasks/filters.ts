// The explorer's filters live in the URL (so a link reproduces the view); this turns them
// into the service's query parameters.
import { dateMath, type DateTime, type RawTimeRange, type TimeRange } from '@grafana/data';
import { appTimeZone } from '../../utils/timeZone';
import type { TimeZone } from '@grafana/schema';

export interface TaskFilterValues {
  project?: string;
  engine: string[];
  state: string[];
  name?: string;
  queue?: string;
  worker?: string;
  q?: string;
  /** Grafana time expressions, e.g. `now-24h` and `now`, or epoch milliseconds. */
  from: string;
  to: string;
}

export const DEFAULT_FROM = 'now-24h';
export const DEFAULT_TO = 'now';

const list = (v: string | null) => (v ? v.split(',').filter(Boolean) : []);
const text = (v: string | null) => (v && v.trim() !== '' ? v : undefined);

export function readFilters(params: URLSearchParams): TaskFilterValues {
  return {
    project: text(params.get('project')),
    engine: list(params.get('engine')),
    state: list(params.get('state')),
    name: text(params.get('name')),
    queue: text(params.get('queue')),
    worker: text(params.get('worker')),
    q: text(params.get('q')),
    from: params.get('from') ?? DEFAULT_FROM,
    to: params.get('to') ?? DEFAULT_TO,
  };
}

/** The URL for these filters; defaults are left out so links stay short. */
export function writeFilters(f: TaskFilterValues): URLSearchParams {
  const p = new URLSearchParams();
  const set = (k: string, v: string | undefined) => v && p.set(k, v);
  set('project', f.project);
  set('engine', f.engine.join(','));
  set('state', f.state.join(','));
  set('name', f.name);
  set('queue', f.queue);
  set('worker', f.worker);
  set('q', f.q);
  if (f.from !== DEFAULT_FROM) {
    p.set('from', f.from);
  }
  if (f.to !== DEFAULT_TO) {
    p.set('to', f.to);
  }
  return p;
}

/**
 * A URL time as a DateTime, or undefined when it is not one. dateMath answers an invalid
 * DateTime (not undefined) for text it cannot read, so that is checked here: a bad `from` in a
 * link must fall back to the default, not reach the service as NaN.
 */
function parseTime(raw: string, roundUp: boolean, timeZone: TimeZone): DateTime | undefined {
  const time = /^\d{10,16}$/.test(raw)
    ? dateMath.toDateTime(new Date(Number(raw)), {})
    : dateMath.toDateTime(raw, { roundUp, timezone: timeZone });
  return time?.isValid() ? time : undefined;
}

/** A picked range back to URL form: relative expressions stay as typed, absolute times become epoch ms. */
export function fromTimeRange(range: TimeRange): Pick<TaskFilterValues, 'from' | 'to'> {
  const raw = (v: unknown, resolved: { valueOf(): number }) => (typeof v === 'string' ? v : String(resolved.valueOf()));
  return { from: raw(range.raw.from, range.from), to: raw(range.raw.to, range.to) };
}

/**
 * The URL's range resolved in the user's time zone (Grafana profile, else the org's or the
 * browser's), so "Today" or "This week" start at the user's midnight, as on dashboards.
 */
export function toTimeRange(f: Pick<TaskFilterValues, 'from' | 'to'>, timeZone: TimeZone = appTimeZone()): TimeRange {
  const from = parseTime(f.from, false, timeZone);
  const to = parseTime(f.to, true, timeZone);
  // An unreadable end is replaced by its default, in the picker too.
  const raw: RawTimeRange = { from: from ? f.from : DEFAULT_FROM, to: to ? f.to : DEFAULT_TO };
  return {
    from: from ?? parseTime(DEFAULT_FROM, false, timeZone)!,
    to: to ?? parseTime(DEFAULT_TO, true, timeZone)!,
    raw,
  };
}

/** True when the range ends at "now": the list then refreshes itself. */
export const isLive = (f: Pick<TaskFilterValues, 'to'>) => f.to === 'now';

/** Filters as the service's query (and bulk filters): times resolved to epoch milliseconds. */
export function toQuery(f: TaskFilterValues): Record<string, string> {
  const range = toTimeRange(f);
  const q: Record<string, string> = { from: String(range.from.valueOf()), to: String(range.to.valueOf()) };
  if (f.engine.length) {
    q.engine = f.engine.join(',');
  }
  if (f.state.length) {
    q.state = f.state.join(',');
  }
  for (const k of ['name', 'queue', 'worker', 'q'] as const) {
    const v = f[k];
    if (v) {
      q[k] = v;
    }
  }
  return q;
}

/** The same span moved one span back (-1) or forward (1), as epoch-ms URL values. */
export function shiftRange(range: TimeRange, direction: -1 | 1): Pick<TaskFilterValues, 'from' | 'to'> {
  const span = range.to.valueOf() - range.from.valueOf();
  const from = range.from.valueOf() + direction * span;
  return { from: String(from), to: String(from + span) };
}

/**
 * Twice the span around the same middle (Grafana's zoom out), as epoch-ms URL values. Half an
 * odd span is rounded: URL times are whole milliseconds.
 */
export function zoomOutRange(range: TimeRange): Pick<TaskFilterValues, 'from' | 'to'> {
  const half = Math.round((range.to.valueOf() - range.from.valueOf()) / 2);
  return { from: String(range.from.valueOf() - half), to: String(range.to.valueOf() + half) };
}
