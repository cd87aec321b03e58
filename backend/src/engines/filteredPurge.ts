// Purging only the waiting messages that match a filter, on engines whose queues are Redis lists.
// Each driver says where its lists are and how to read a task name out of a member; this module
// scans (read-only, in pages) and removes exactly the members found, in one Lua script per batch
// that rebuilds the list without them: atomic against workers, so a concurrent consumer takes
// either a message before the script or after it, and a non-matching message is never lost.
import type { Redis } from 'ioredis';

/** What a filtered purge matches. Only the task name today; every field given must match. */
export interface PurgeFilter {
  name: string;
}

export interface MatchCount {
  matched: number;
  scanned: number;
  /** False when the preview stopped scanning at its bound: `matched` is then "at least". */
  complete: boolean;
}

/** One Redis list of waiting messages and how to read it. */
export interface MessageList {
  key: string;
  /**
   * The end producers push to. The scan counts positions from it, so a consumer popping the
   * other end during the scan cannot shift a message past the cursor (a producer can only make
   * us read one twice, which the scan ignores).
   */
  producerEnd: 'left' | 'right';
  /** The task name of each member (null when it cannot be read: such a message never matches). */
  names(members: Buffer[]): Promise<(string | null)[]>;
  /** Lua run for each removed member (bound to `member`), e.g. deleting the message it names. */
  cleanup?: string;
}

/** How many messages a preview reads at most before answering "at least". */
export const PREVIEW_SCAN_LIMIT = 100_000;
const PAGE = 2_000;
const REMOVE_BATCH = 5_000;

export function matches(filter: PurgeFilter, name: string | null): boolean {
  return name !== null && name === filter.name;
}

/** The members of a list, page by page, each once, from the producer end. */
async function* pages(redis: Redis, list: MessageList, limit: number): AsyncGenerator<Buffer[]> {
  const seen = new Set<string>();
  for (let from = 0; from < limit; from += PAGE) {
    const to = Math.min(from + PAGE, limit) - 1;
    const page = list.producerEnd === 'left'
      ? await redis.lrangeBuffer(list.key, from, to)
      : (await redis.lrangeBuffer(list.key, -1 - to, -1 - from)).reverse();
    const fresh = page.filter((m) => {
      const k = m.toString('latin1');
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    if (fresh.length) yield fresh;
    if (page.length < to - from + 1) return;
  }
}

async function matching(redis: Redis, list: MessageList, filter: PurgeFilter, limit: number, onPage?: (n: number) => void): Promise<Buffer[]> {
  const found: Buffer[] = [];
  for await (const page of pages(redis, list, limit)) {
    onPage?.(page.length);
    const names = await list.names(page);
    page.forEach((m, i) => { if (matches(filter, names[i] ?? null)) found.push(m); });
  }
  return found;
}

/** Counts matching messages, reading at most `limit` per list. */
export async function countMatching(redis: Redis, lists: MessageList[], filter: PurgeFilter, limit = PREVIEW_SCAN_LIMIT): Promise<MatchCount> {
  let matched = 0;
  let scanned = 0;
  let complete = true;
  for (const list of lists) {
    let here = 0;
    matched += (await matching(redis, list, filter, limit, (n) => { here += n; })).length;
    scanned += here;
    if (here >= limit && (await redis.llen(list.key)) > limit) complete = false;
  }
  return { matched, scanned, complete };
}

/** Rebuilds the list without the given members (each removed once); returns those it removed. */
const removeScript = (cleanup: string) => `
local drop = {}
for i = 1, #ARGV do drop[ARGV[i]] = true end
local keep, removed = {}, 0
for _, member in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if drop[member] then
    drop[member] = nil
    removed = removed + 1
    ${cleanup}
  else
    keep[#keep + 1] = member
  end
end
if removed > 0 then
  redis.call('DEL', KEYS[1])
  for i = 1, #keep, 5000 do redis.call('RPUSH', KEYS[1], unpack(keep, i, math.min(i + 4999, #keep))) end
end
return removed`;

/**
 * Removes every waiting message that matches. Messages a worker took meanwhile are not counted
 * (they run); messages enqueued after the scan are not touched.
 */
export async function purgeMatching(redis: Redis, lists: MessageList[], filter: PurgeFilter): Promise<number> {
  let purged = 0;
  for (const list of lists) {
    const found = await matching(redis, list, filter, Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < found.length; i += REMOVE_BATCH) {
      purged += Number(await redis.eval(removeScript(list.cleanup ?? ''), 1, list.key, ...found.slice(i, i + REMOVE_BATCH)));
    }
  }
  return purged;
}
