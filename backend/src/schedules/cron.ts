// Cron expressions and time zones of schedules: what z4j accepts (5 fields or a nickname, an
// IANA zone), said in words when refused, and the times a schedule is due, computed by croner
// in the schedule's zone (DST-aware: a time skipped by a spring-forward runs at the first time
// after the gap, a time repeated by a fall-back runs once; see docs/schedules.md).
import { Cron } from 'croner';
import { ApiError } from '../api/errors.js';

/** A schedule refused for what it says (a 400 with its code). */
export class ScheduleInputError extends ApiError {
  constructor(code: 'INVALID_CRON' | 'UNKNOWN_TIMEZONE' | 'BAD_REQUEST', message: string) {
    super(400, code, message);
  }
}

export const NICKNAMES = ['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@annually', '@midnight'] as const;

const FIELDS = 'minute hour day-of-month month day-of-week';
const MAX_CRON_CHARS = 200;

/** The cron as stored: trimmed, fields one space apart, a nickname in lower case. */
export function normalizeCron(cron: string): string {
  const c = cron.trim().replace(/\s+/g, ' ');
  return c.startsWith('@') ? c.toLowerCase() : c;
}

/** croner's own messages, without its class name and in the words of a 5-field cron. */
function human(message: string): string {
  return message
    .replace(/^CronPattern:\s*/, '')
    .replace(/^configuration entry (\d) \((.*)\) contains illegal characters\.?/, (_m, i: string, v: string) => `${FIELDS.split(' ')[Number(i) - 1] ?? 'a field'} "${v}" has characters cron does not know`)
    .replace(/^Invalid value for (\w+): (.*)$/, '$1 $2 is out of range');
}

/** Validates a cron (normalized first); throws ScheduleInputError INVALID_CRON saying what is wrong. */
export function validateCron(cron: string): string {
  const c = normalizeCron(cron);
  if (!c) throw new ScheduleInputError('INVALID_CRON', `cron is empty: it needs 5 fields (${FIELDS}) or one of ${NICKNAMES.join(', ')}`);
  if (c.length > MAX_CRON_CHARS) throw new ScheduleInputError('INVALID_CRON', `cron is longer than ${MAX_CRON_CHARS} characters`);
  if (c.startsWith('@')) {
    if (!(NICKNAMES as readonly string[]).includes(c)) throw new ScheduleInputError('INVALID_CRON', `${c} is not supported: use 5 fields (${FIELDS}) or one of ${NICKNAMES.join(', ')}`);
  } else {
    const n = c.split(' ').length;
    if (n === 6 || n === 7) throw new ScheduleInputError('INVALID_CRON', `cron needs 5 fields (${FIELDS}); seconds${n === 7 ? ' and years' : ''} are not supported`);
    if (n !== 5) throw new ScheduleInputError('INVALID_CRON', `cron needs 5 fields (${FIELDS}), this one has ${n}`);
  }
  let next: Date | null;
  try {
    next = cronIn(c, 'UTC').nextRun(new Date(0));
  } catch (err) {
    throw new ScheduleInputError('INVALID_CRON', `cron ${c}: ${human((err as Error).message)}`);
  }
  // e.g. 0 0 31 2 *: every 31 February.
  if (!next) throw new ScheduleInputError('INVALID_CRON', `cron ${c} never matches a date`);
  return c;
}

/** Validates an IANA time zone name (UTC included); throws ScheduleInputError UNKNOWN_TIMEZONE. */
export function validateTimezone(timezone: string): string {
  // Intl knows the IANA names (and takes offsets like +01:00, which are not zones: no DST rules).
  const tz = timezone.trim();
  if (tz && tz.length <= 100 && !/^[+-]/.test(tz)) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return tz;
    } catch {
      /* unknown */
    }
  }
  throw new ScheduleInputError('UNKNOWN_TIMEZONE', `unknown time zone ${JSON.stringify(timezone.slice(0, 100))}: use an IANA name such as UTC, Europe/Paris or America/New_York`);
}

/** A validated cron in a validated zone. Minutes: second 0 of each (5-part mode). */
function cronIn(cron: string, timezone: string): Cron {
  return new Cron(cron, { mode: '5-part', timezone });
}

/** The next `count` due times strictly after `after`. */
export function nextTimes(cron: string, timezone: string, after: Date, count: number): Date[] {
  return cronIn(cron, timezone).nextRuns(count, after);
}

/** The first due time strictly after `after`, or null if there is none. */
export function nextTime(cron: string, timezone: string, after: Date): Date | null {
  return cronIn(cron, timezone).nextRun(after);
}

export interface Due {
  /** The latest due time at or before `now`: the one a run fires for. */
  dueAt: Date;
  /** Due times from `since` up to dueAt (excluded): skipped, counted up to `maxMissed` (then: at least that many). */
  missed: number;
  /** The next due time after `now`. */
  next: Date | null;
}

/**
 * Most skipped times counted; a count that reaches it means "at least this many". Each step
 * costs croner about 0.2 ms (in UTC as in a zone), synchronously, inside the claim transaction:
 * 100 steps for each of a batch of 100 schedules is about 2 s of a blocked event loop after a
 * long outage (a cap of 1,000 was about 19 s), and past 100 the number says no more than "a lot".
 */
export const MAX_MISSED = 100;

/**
 * What a schedule due since `since` (its next_run_at, at or before `now`) fires for at `now`:
 * once, for the latest due time, counting the ones it skipped (the service was down or behind).
 */
export function dueAt(cron: string, timezone: string, since: Date, now: Date, maxMissed = MAX_MISSED): Due {
  const c = cronIn(cron, timezone);
  const latest = c.previousRuns(1, new Date(now.getTime() + 1))[0];
  const due = latest && latest.getTime() > since.getTime() ? latest : since;
  let missed = 0;
  for (let t: Date | null = since; t && t.getTime() < due.getTime() && missed < maxMissed; t = c.nextRun(t)) missed++;
  return { dueAt: due, missed, next: c.nextRun(now) };
}
