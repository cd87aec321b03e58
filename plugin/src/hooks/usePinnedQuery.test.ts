import { renderHook } from '@testing-library/react';
import { usePinnedQuery } from './usePinnedQuery';

/** "The last hour" as the service's query, resolved at the clock's time. */
let clock = 0;
const lastHour = (project: string) => () => ({ project, from: clock - 3_600_000, to: clock });

describe('the query of a paged list', () => {
  beforeEach(() => (clock = 10_000_000));

  test('goes on with the range its first page was read with, though the clock has moved on', () => {
    const { result } = renderHook(() => usePinnedQuery(lastHour('shop')));
    const first = result.current.pin(result.current.fresh());

    clock += 10 * 60_000;
    expect(result.current.fresh()).toEqual({ project: 'shop', from: 7_000_000, to: 10_600_000 });
    expect(result.current.next()).toEqual(first);
    expect(result.current.next()).toEqual({ project: 'shop', from: 6_400_000, to: 10_000_000 });
  });

  test('is pinned anew by the next first page read (Reload, a filter change)', () => {
    const { result, rerender } = renderHook(({ project }) => usePinnedQuery(lastHour(project)), {
      initialProps: { project: 'shop' },
    });
    result.current.pin(result.current.fresh());

    clock += 60_000;
    rerender({ project: 'billing' });
    const again = result.current.pin(result.current.fresh());
    expect(again).toEqual({ project: 'billing', from: 6_460_000, to: 10_060_000 });
    expect(result.current.next()).toEqual(again);
  });

  test('is a fresh one while no first page was read', () => {
    const { result } = renderHook(() => usePinnedQuery(lastHour('shop')));
    clock += 60_000;
    expect(result.current.next()).toEqual({ project: 'shop', from: 6_460_000, to: 10_060_000 });
  });

  test('a first page asked for but not shown does not move it', () => {
    const { result } = renderHook(() => usePinnedQuery(lastHour('shop')));
    const shown = result.current.pin(result.current.fresh());
    clock += 60_000;
    result.current.fresh(); // a Reload whose answer failed: the rows and cursor on screen are still the first read's
    expect(result.current.next()).toEqual(shown);
  });
});
