// The time zone the app shows times in: the one the user picks in a time range picker (kept in
// this browser), else the one of their Grafana profile. Grafana's pickers offer the choice on
// every page that has one; without this it would do nothing.
import React, { createContext, Fragment, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { TimeZone } from '@grafana/schema';
import { appTimeZone, rememberTimeZone } from '../utils/timeZone';

interface TimeZoneSetting {
  timeZone: TimeZone;
  setTimeZone: (timeZone: TimeZone) => void;
}

const TimeZoneContext = createContext<TimeZoneSetting>({ timeZone: appTimeZone(), setTimeZone: rememberTimeZone });

export function TimeZoneProvider({ children }: { children: ReactNode }) {
  const [timeZone, setState] = useState(appTimeZone);
  const setTimeZone = useCallback((next: TimeZone) => {
    rememberTimeZone(next);
    setState(appTimeZone());
  }, []);
  const value = useMemo(() => ({ timeZone, setTimeZone }), [timeZone, setTimeZone]);
  // Keyed by the zone: every time on every page is drawn again in the new one (a rare change).
  return (
    <TimeZoneContext.Provider value={value}>
      <Fragment key={timeZone}>{children}</Fragment>
    </TimeZoneContext.Provider>
  );
}

export const useTimeZone = () => useContext(TimeZoneContext);
