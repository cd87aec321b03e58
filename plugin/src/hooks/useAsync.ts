import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { toApiRequestError, type ApiRequestError } from '../api/client';

export interface AsyncState<T> {
  value?: T;
  error?: ApiRequestError;
  loading: boolean;
  /** Loads again, keeping the current value on screen until the new one arrives. */
  reload: () => Promise<void>;
}

interface Loaded<T> {
  /** The deps the value and error were loaded for. */
  deps?: readonly unknown[];
  value?: T;
  error?: ApiRequestError;
  loading: boolean;
}

const sameDeps = (a: readonly unknown[] | undefined, b: readonly unknown[]) =>
  a !== undefined && a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/**
 * Runs `load` when `deps` change and tracks value, error and loading. An answer that arrives
 * after newer deps were asked for is ignored, so fast filter changes never show stale rows.
 * A value is only ever returned for the deps it was loaded for: while another task (or project)
 * loads, or after it failed to, the previous one's value is not shown, nor acted on. Deps are
 * compared with Object.is, as React's are: pass strings and numbers, not objects made per render.
 */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: true });
  const generation = useRef(0);
  const loadRef = useRef(load);
  const depsRef = useRef(deps);
  useLayoutEffect(() => {
    loadRef.current = load;
    depsRef.current = deps;
  });

  const run = useCallback(async () => {
    const mine = ++generation.current;
    const asked = depsRef.current;
    // A reload keeps what is on screen; other deps start from nothing.
    const kept = (s: Loaded<T>) => (sameDeps(s.deps, asked) ? s.value : undefined);
    setState((s) => (sameDeps(s.deps, asked) ? { ...s, loading: true } : { deps: asked, loading: true }));
    try {
      const value = await loadRef.current();
      if (mine === generation.current) {
        setState({ deps: asked, value, loading: false });
      }
    } catch (e) {
      if (mine === generation.current) {
        setState((s) => ({ deps: asked, value: kept(s), error: toApiRequestError(e), loading: false }));
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

  // Between a deps change and the effect that loads for them, the state still holds the old deps'.
  const current = sameDeps(state.deps, deps) ? state : { loading: true };
  return { ...current, reload: run };
}

/**
 * Calls `tick` every `ms` while the page is visible (a hidden tab does not poll). The wait starts
 * when the previous tick has answered, not when it was sent: on a slow service a poll is never
 * sent while the one before is still in flight, so requests do not pile up.
 */
export function useInterval(tick: () => unknown, ms: number | null) {
  const tickRef = useRef(tick);
  useLayoutEffect(() => {
    tickRef.current = tick;
  });
  useEffect(() => {
    if (ms === null) {
      return;
    }
    let stopped = false;
    let id: ReturnType<typeof setTimeout>;
    const run = async () => {
      try {
        if (typeof document === 'undefined' || document.visibilityState !== 'hidden') {
          await tickRef.current();
        }
      } catch {
        /* a tick says its own failures; the next one tries again */
      } finally {
        if (!stopped) {
          id = setTimeout(run, ms);
        }
      }
    };
    id = setTimeout(run, ms);
    return () => {
      stopped = true;
      clearTimeout(id);
    };
  }, [ms]);
}
