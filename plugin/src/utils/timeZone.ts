import { getTimeZone } from '@grafana/data';
import type { TimeZone } from '@grafana/schema';

const TIME_ZONE = 'z4j.timeZone';

/** The zone times are shown and ranges read in: the user's pick in this browser, else their Grafana profile's. */
export function appTimeZone(): TimeZone {
  try {
    return window.localStorage.getItem(TIME_ZONE) || getTimeZone();
  } catch {
    return getTimeZone();
  }
}

/** Keeps the pick; an empty one ("Default" in Grafana's picker) goes back to the profile's zone. */
export function rememberTimeZone(timeZone: TimeZone) {
  try {
    timeZone ? window.localStorage.setItem(TIME_ZONE, timeZone) : window.localStorage.removeItem(TIME_ZONE);
  } catch {
    /* storage disabled: the profile's zone */
  }
}
