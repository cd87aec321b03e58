import { dateTimeFormat, dateTimeFormatTimeAgo } from '@grafana/data';

/** 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min: the unit a person reads at a glance. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '—';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} min ${Math.round(s % 60)} s`;
  }
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatTime(iso: string | null | undefined): string {
  return iso ? dateTimeFormat(iso, { format: 'YYYY-MM-DD HH:mm:ss.SSS' }) : '—';
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
