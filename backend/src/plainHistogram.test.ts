import { Histogram, Registry } from 'prom-client';
import { PlainHistogram } from './plainHistogram.js';

const BUCKETS = [0.01, 0.1, 1, 10];

describe('PlainHistogram', () => {
  it('is exposed exactly as a prom-client histogram of the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const plain = new PlainHistogram('z4j_test_seconds', 'A test histogram.', BUCKETS, ours);
    const reference = new Histogram({ name: 'z4j_test_seconds', help: 'A test histogram.', buckets: BUCKETS, registers: [theirs] });
    for (const v of [0, 0.01, 0.05, 0.5, 1, 3, 10, 11, 1e6, 0.1]) {
      plain.observe(v);
      reference.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('z4j_test_seconds_bucket{le="+Inf"} 10');
  });

  it('ignores values that are not finite numbers, and resets', async () => {
    const registry = new Registry();
    const plain = new PlainHistogram('z4j_test_seconds', 'A test histogram.', BUCKETS, registry);
    plain.observe(Number.NaN);
    plain.observe(Number.POSITIVE_INFINITY);
    plain.observe(0.5);
    expect(await registry.metrics()).toContain('z4j_test_seconds_count 1');
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('z4j_test_seconds_count 0');
    expect(await registry.metrics()).toContain('z4j_test_seconds_bucket{le="1"} 0');
  });
});
