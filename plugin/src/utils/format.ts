import { dateTimeFormat, dateTimeFormatTimeAgo } from '@grafana/data';
import { appTimeZone } from './timeZone';

/** 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min: the unit a person reads at a glance. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '—';
  }
  // Each unit is chosen after rounding to what it shows: 59,960 ms reads "1 min 0 s", not "60.0 s".
  if (Math.round(ms) < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const s = ms / 1000;
  if (s < 9.995) {
    return `${s.toFixed(2)} s`;
  }
  if (s < 59.95) {
    return `${s.toFixed(1)} s`;
  }
  const seconds = Math.round(s);
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  }
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatTime(iso: string | null | undefined): string {
  return iso ? dateTimeFormat(iso, { format: 'YYYY-MM-DD HH:mm:ss.SSS', timeZone: appTimeZone() }) : '—';
}

/** A time to the minute (a cron's), in the app's time zone or the one given. */
export function formatMinute(iso: string | null | undefined, timeZone: string = appTimeZone()): string {
  return iso ? dateTimeFormat(iso, { format: 'YYYY-MM-DD HH:mm', timeZone }) : '—';
}

export function formatAgo(iso: string | null | undefined): string {
  return iso ? dateTimeFormatTimeAgo(iso) : '—';
}

/** Milliseconds between two ISO times, or null. */
export function between(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) {
    return null;
  }
  return new Date(to).getTime() - new Date(from).getTime();
}
