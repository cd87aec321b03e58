// The filtered purge's scan on a real Redis list: the preview's bound and exact removal.
import { Redis } from 'ioredis';
import { countMatching, GONE, purgeMatching, type MessageList } from '../src/engines/filteredPurge.js';
import { uniqueQueue } from './helpers/pyapp.js';
import { TASKIQ_REDIS_URL } from './helpers/taskiq.js';

describe('filtered purge on a Redis list', () => {
  const redis = new Redis(TASKIQ_REDIS_URL);
  afterAll(() => redis.quit());
  const list = (key: string): MessageList => ({ key, producerEnd: 'left', names: async (raws) => raws.map((r) => JSON.parse(r.toString()).task_name) });

  test('a preview past its bound says "at least"; the purge still removes every match, in order around them', async () => {
    const key = uniqueQueue('fp_bound');
    const members = Array.from({ length: 30 }, (_, i) => JSON.stringify({ task_id: String(i), task_name: i % 3 === 0 ? 'a' : 'b' }));
    await redis.lpush(key, ...members);
    expect(await countMatching(redis, [list(key)], { name: 'a' }, 10)).toMatchObject({ scanned: 10, complete: false });
    expect(await countMatching(redis, [list(key)], { name: 'a' })).toEqual({ matched: 10, scanned: 30, complete: true, unreadable: 0 });
    expect(await purgeMatching(redis, [list(key)], { name: 'a' })).toBe(10);
    const left = await redis.lrange(key, 0, -1);
    expect(left).toEqual([...members].reverse().filter((m) => JSON.parse(m).task_name === 'b'));
    await redis.del(key);
  });

  test('a message z4j cannot read is counted as such and kept; one whose data is gone is neither', async () => {
    const key = uniqueQueue('fp_unreadable');
    await redis.lpush(key, 'a-1', 'unreadable', 'gone', 'a-2');
    const read = (m: string) => (m === 'unreadable' ? null : m === 'gone' ? GONE : m.split('-')[0]!);
    const reader: MessageList = { key, producerEnd: 'left', names: async (raws) => raws.map((r) => read(r.toString())) };
    expect(await countMatching(redis, [reader], { name: 'a' })).toEqual({ matched: 2, scanned: 4, complete: true, unreadable: 1 });
    expect(await purgeMatching(redis, [reader], { name: 'a' })).toBe(2);
    expect(await redis.lrange(key, 0, -1)).toEqual(['gone', 'unreadable']);
    await redis.del(key);
  });
});
