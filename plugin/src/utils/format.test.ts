import { formatDuration } from './format';

describe('formatDuration', () => {
  it.each([
    [null, '—'],
    [850, '850 ms'],
    [999.6, '1.00 s'],
    [1234, '1.23 s'],
    [9996, '10.0 s'],
    [12_345, '12.3 s'],
    [59_960, '1 min 0 s'],
    [119_600, '2 min 0 s'],
    [245_000, '4 min 5 s'],
    [3_599_600, '1 h 0 min'],
    [7_380_000, '2 h 3 min'],
  ])('reads %p ms as %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
