import { dateTime } from '@grafana/data';
import { readFilters, shiftRange, toQuery, toTimeRange, writeFilters, zoomOutRange } from './filters';

const at = (iso: string) => dateTime(iso);

describe('explorer filters in the URL', () => {
  test('round-trip, with defaults left out of the URL', () => {
    const params = new URLSearchParams('state=failed,retried&name=billing.charge&queue=emails&from=now-6h');
    const filters = readFilters(params);
    expect(filters).toMatchObject({
      state: ['failed', 'retried'],
      engine: [],
      name: 'billing.charge',
      queue: 'emails',
      from: 'now-6h',
      to: 'now',
    });
    expect(writeFilters(filters).toString()).toBe(
      'state=failed%2Cretried&name=billing.charge&queue=emails&from=now-6h'
    );
  });

  test('the service query resolves times to epoch milliseconds and drops empty filters', () => {
    const q = toQuery(readFilters(new URLSearchParams('from=1700000000000&to=1700003600000&engine=rq')));
    expect(q).toEqual({ from: '1700000000000', to: '1700003600000', engine: 'rq' });
  });

  test('move back and forward by one span, zoom out to twice the span around the middle', () => {
    const range = toTimeRange({
      from: String(at('2026-11-29T10:00:00Z').valueOf()),
      to: String(at('2026-11-29T11:00:00Z').valueOf()),
    });
    expect(shiftRange(range, -1)).toEqual({
      from: String(at('2026-11-29T09:00:00Z').valueOf()),
      to: String(at('2026-11-29T10:00:00Z').valueOf()),
    });
    expect(shiftRange(range, 1)).toEqual({
      from: String(at('2026-11-29T11:00:00Z').valueOf()),
      to: String(at('2026-11-29T12:00:00Z').valueOf()),
    });
    expect(zoomOutRange(range)).toEqual({
      from: String(at('2026-11-29T09:30:00Z').valueOf()),
      to: String(at('2026-11-29T11:30:00Z').valueOf()),
    });
  });
});

describe('time ranges that cannot be read', () => {
  test('zooming out an odd span gives whole milliseconds the next page can read back', () => {
    const range = toTimeRange({ from: '1700000000000', to: '1700000000001' });
    const zoomed = zoomOutRange(range);
    expect(zoomed).toEqual({ from: '1699999999999', to: '1700000000002' });
    expect(toQuery(readFilters(new URLSearchParams(zoomed)))).toMatchObject(zoomed);
  });

  test('an unreadable time in the URL falls back to the default, never NaN', () => {
    const now = Date.now();
    const q = toQuery(readFilters(new URLSearchParams('from=1700000000000.5&to=yesterday')));
    expect(Number(q.from)).toBeGreaterThan(now - 24 * 3600_000 - 60_000);
    expect(Number(q.to)).toBeGreaterThanOrEqual(now);
    expect(toTimeRange({ from: 'nonsense', to: 'now' }).raw).toEqual({ from: 'now-24h', to: 'now' });
  });

  test("'Today' starts at midnight in the user's time zone", () => {
    // Kolkata is UTC+5:30 all year: its midnight is 18:30 UTC the day before.
    const { from } = toTimeRange({ from: 'now/d', to: 'now/d' }, 'Asia/Kolkata');
    expect(from.valueOf() % 86_400_000).toBe((18 * 60 + 30) * 60_000);
    expect(toTimeRange({ from: 'now/d', to: 'now/d' }, 'utc').from.valueOf() % 86_400_000).toBe(0);
  });
});
