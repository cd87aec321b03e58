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
