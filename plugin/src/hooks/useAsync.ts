import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { toApiRequestError, type ApiRequestError } from '../api/client';

export interface AsyncState<T> {
  value?: T;
  error?: ApiRequestError;
  loading: boolean;
  /** Loads again, keeping the current value on screen until the new one arrives. */
  reload: () => Promise<void>;
}

/**
 * Runs `load` when `deps` change and tracks value, error and loading. An answer that arrives
 * after newer deps were asked for is ignored, so fast filter changes never show stale rows.
 */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ value?: T; error?: ApiRequestError; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const loadRef = useRef(load);
  useLayoutEffect(() => {
    loadRef.current = load;
  });

  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const value = await loadRef.current();
      if (mine === generation.current) {
        setState({ value, loading: false });
      }
    } catch (e) {
      if (mine === generation.current) {
        setState((s) => ({ value: s.value, error: toApiRequestError(e), loading: false }));
      }
    }
  }, []);

  useEffect(() => {
    run();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(
    () => () => {
      generation.current++; // unmounted: drop answers still in flight
    },
    []
  );

  return { ...state, reload: run };
}

/** Calls `tick` every `ms` while the page is visible (a hidden tab does not poll). */
export function useInterval(tick: () => void, ms: number | null) {
  const tickRef = useRef(tick);
  useLayoutEffect(() => {
    tickRef.current = tick;
  });
  useEffect(() => {
    if (ms === null) {
      return;
    }
    const id = setInterval(() => {
      if (typeof document === 'undefined' || document.visibilityState !== 'hidden') {
        tickRef.current();
      }
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}
