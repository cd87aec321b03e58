// The filtered purge's scan on a real Redis list: the preview's bound and exact removal.
import { Redis } from 'ioredis';
import { countMatching, GONE, purgeMatching, purgeWhole, UNREADABLE, type MessageList } from '../src/engines/filteredPurge.js';
import { uniqueQueue } from './helpers/pyapp.js';
import { TASKIQ_REDIS_URL } from './helpers/taskiq.js';

describe('filtered purge on a Redis list', () => {
  const redis = new Redis(TASKIQ_REDIS_URL);
  afterAll(() => redis.quit());
  const list = (key: string): MessageList => ({ key, producerEnd: 'left', read: async (raws) => raws.map((r) => ({ name: JSON.parse(r.toString()).task_name, taskId: JSON.parse(r.toString()).task_id })) });

  test('a preview past its bound says "at least"; the purge still removes every match, in order around them', async () => {
    const key = uniqueQueue('fp_bound');
    const members = Array.from({ length: 30 }, (_, i) => JSON.stringify({ task_id: String(i), task_name: i % 3 === 0 ? 'a' : 'b' }));
    await redis.lpush(key, ...members);
    expect(await countMatching(redis, [list(key)], { name: 'a' }, 10)).toMatchObject({ scanned: 10, complete: false });
    expect(await countMatching(redis, [list(key)], { name: 'a' })).toEqual({ matched: 10, scanned: 30, complete: true, unreadable: 0 });
    const purged = await purgeMatching(redis, [list(key)], { name: 'a' });
    expect(purged.purged).toBe(10);
    expect(purged.taskIds!.map(Number).sort((x, y) => x - y)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    const left = await redis.lrange(key, 0, -1);
    expect(left).toEqual([...members].reverse().filter((m) => JSON.parse(m).task_name === 'b'));
    await redis.del(key);
  });

  test('a message z4j cannot read is counted as such and kept; one whose data is gone is neither', async () => {
    const key = uniqueQueue('fp_unreadable');
    await redis.lpush(key, 'a-1', 'unreadable', 'gone', 'a-2');
    const read = (m: string) => (m === 'unreadable' ? UNREADABLE : m === 'gone' ? GONE : { name: m.split('-')[0]!, taskId: m });
    const reader: MessageList = { key, producerEnd: 'left', read: async (raws) => raws.map((r) => read(r.toString())) };
    expect(await countMatching(redis, [reader], { name: 'a' })).toEqual({ matched: 2, scanned: 4, complete: true, unreadable: 1 });
    expect(await purgeMatching(redis, [reader], { name: 'a' })).toEqual({ purged: 2, taskIds: expect.arrayContaining(['a-1', 'a-2']) });
    expect(await redis.lrange(key, 0, -1)).toEqual(['gone', 'unreadable']);
    await redis.del(key);
  });

  test('a whole purge empties every key at once, then names the tasks of every page it read; unreadable messages are counted, not named', async () => {
    const [list, set, missing] = [uniqueQueue('pw_list'), uniqueQueue('pw_set'), uniqueQueue('pw_missing')];
    // More than a page (2,000), so the read goes on past the first.
    const ids = Array.from({ length: 4500 }, (_, i) => `list-${i}`);
    for (let i = 0; i < ids.length; i += 500) await redis.lpush(list, ...ids.slice(i, i + 500).map((id) => JSON.stringify({ id })));
    await redis.lpush(list, 'not json');
    await redis.zadd(set, 1, JSON.stringify({ id: 'set-1' }), 2, JSON.stringify({ id: 'set-2' }));
    const idOf = (raw: Buffer) => {
      try {
        return JSON.parse(raw.toString()).id as string;
      } catch {
        return null;
      }
    };
    const purged = await purgeWhole(redis, [list, set, missing], (raws) => raws.map(idOf));
    expect(purged.purged).toBe(4503);
    expect(purged.taskIds!.sort()).toEqual([...ids, 'set-1', 'set-2'].sort());
    expect(await redis.keys(`${list}*`)).toEqual([]);
    expect(await redis.keys(`${set}*`)).toEqual([]);
    expect(await purgeWhole(redis, [list], (raws) => raws.map(idOf))).toEqual({ purged: 0, taskIds: [] });
  });
});
