// Purging the waiting messages of engines whose queues are Redis lists (or, for arq, a sorted
// set of job ids): only those that match a filter, or all of them. Each driver says where its
// queue is and how to read a task name and id out of a member. A filtered purge scans (read-only,
// in pages) and removes exactly the members found, in one Lua script per batch: atomic against
// workers, so a concurrent consumer takes either a message before the script or after it, and a
// non-matching message is never lost. Both say which tasks they removed, for z4j to mark revoked.
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PURGED_IDS_LIMIT, type Purged } from './driver.js';

/** What a filtered purge matches. Only the task name today; every field given must match. */
export interface PurgeFilter {
  name: string;
}

export interface MatchCount {
  matched: number;
  scanned: number;
  /** False when the preview stopped scanning at its bound: `matched` is then "at least". */
  complete: boolean;
  /** Of those scanned, messages whose task name z4j cannot read (another serializer): never matched, so kept. */
  unreadable: number;
}

/**
 * What a list's reader makes of one waiting message: its task name and id, each null when the
 * message cannot be read (a serializer z4j does not read): a message without a name never
 * matches, and a preview counts it as unreadable; GONE when its data is no longer there (run or
 * expired meanwhile): it never matches, and is not counted.
 */
export const GONE = Symbol('gone');
export interface WaitingTask { name: string | null; taskId: string | null }
export type Waiting = WaitingTask | typeof GONE;
/** A message z4j cannot read. */
export const UNREADABLE: WaitingTask = Object.freeze({ name: null, taskId: null });

/** One Redis list of waiting messages and how to read it. */
export interface MessageList {
  key: string;
  /**
   * The end producers push to. The scan counts positions from it, so a consumer popping the
   * other end during the scan cannot shift a message past the cursor (a producer can only make
   * us read one twice, which the scan ignores).
   */
  producerEnd: 'left' | 'right';
  /** What each member is (its task, or why it has none). */
  read(members: Buffer[]): Promise<Waiting[]>;
  /** Lua run for each removed member (bound to `member`), e.g. deleting the message it names. */
  cleanup?: string;
}

/** One Redis sorted set of waiting message ids (arq's queue) and how to read it. */
export interface MessageSet {
  key: string;
  kind: 'sorted set';
  read(members: Buffer[]): Promise<Waiting[]>;
  /** A Lua condition on `member`: true when a worker already holds it (it is then left alone: it runs). */
  taken: string;
  /** Lua run for each removed member (bound to `member`), e.g. deleting the job it names. */
  cleanup: string;
}

export type WaitingMessages = MessageList | MessageSet;
const isSet = (w: WaitingMessages): w is MessageSet => 'kind' in w && w.kind === 'sorted set';

/** How many messages a preview reads at most before answering "at least". */
export const PREVIEW_SCAN_LIMIT = 100_000;
const PAGE = 2_000;
// Each removal rebuilds the list (one O(length) script that blocks Redis meanwhile): few large
// batches block it less in total than many small ones (300,000 messages, 30,000 matches: 6 rebuilds
// of ≈ 0.5 s each at 5,000).
const REMOVE_BATCH = 50_000;

export function matches(filter: PurgeFilter, name: string | null): boolean {
  return name !== null && name === filter.name;
}

/**
 * The members of a list (or sorted set), page by page, each once, from the producer end, at most
 * `limit`. A member is remembered by its digest, not its bytes: a scan of 100,000 messages of
 * 10 KB would otherwise hold a gigabyte.
 */
export async function* waitingPages(redis: Redis, list: WaitingMessages, limit: number): AsyncGenerator<Buffer[]> {
  if (isSet(list)) return yield* setPages(redis, list, limit);
  const seen = new Set<string>();
  for (let from = 0; from < limit; from += PAGE) {
    const to = Math.min(from + PAGE, limit) - 1;
    const page = list.producerEnd === 'left'
      ? await redis.lrangeBuffer(list.key, from, to)
      : (await redis.lrangeBuffer(list.key, -1 - to, -1 - from)).reverse();
    const fresh = page.filter((m) => {
      const k = digest(m);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    if (fresh.length) yield fresh;
    if (page.length < to - from + 1) return;
  }
}

const digest = (member: Buffer) => createHash('sha256').update(member).digest('base64');

/**
 * The members of a sorted set, each once. ZSCAN rather than ranges by rank: workers remove the
 * lowest scores while we read, which would shift ranks past the cursor; ZSCAN returns every member
 * present for the whole scan (some twice, which we skip).
 */
async function* setPages(redis: Redis, set: MessageSet, limit: number): AsyncGenerator<Buffer[]> {
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.zscanBuffer(set.key, cursor, 'COUNT', PAGE);
    cursor = next.toString();
    const fresh = flat.filter((m, i) => {
      if (i % 2 === 1 || seen.size >= limit) return false; // odd entries are scores
      const k = digest(m);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    if (fresh.length) yield fresh;
  } while (cursor !== '0' && seen.size < limit);
}

async function matching(redis: Redis, list: WaitingMessages, filter: PurgeFilter, limit: number): Promise<{ found: Buffer[]; taskIds: (string | null)[]; scanned: number; unreadable: number }> {
  const found: Buffer[] = [];
  const taskIds: (string | null)[] = [];
  let scanned = 0;
  let unreadable = 0;
  for await (const page of waitingPages(redis, list, limit)) {
    scanned += page.length;
    const tasks = await list.read(page);
    page.forEach((m, i) => {
      const task = tasks[i] ?? UNREADABLE;
      if (task === GONE) return;
      if (task.name === null) unreadable++;
      else if (matches(filter, task.name)) {
        found.push(m);
        taskIds.push(task.taskId);
      }
    });
  }
  return { found, taskIds, scanned, unreadable };
}

/** Counts matching messages, reading at most `limit` per list. */
export async function countMatching(redis: Redis, lists: WaitingMessages[], filter: PurgeFilter, limit = PREVIEW_SCAN_LIMIT): Promise<MatchCount> {
  const count: MatchCount = { matched: 0, scanned: 0, complete: true, unreadable: 0 };
  for (const list of lists) {
    const here = await matching(redis, list, filter, limit);
    count.matched += here.found.length;
    count.scanned += here.scanned;
    count.unreadable += here.unreadable;
    if (here.scanned >= limit && (await (isSet(list) ? redis.zcard(list.key) : redis.llen(list.key))) > limit) count.complete = false;
  }
  return count;
}

/**
 * Rebuilds the list without the given members (each removed once); returns the positions in
 * ARGV of those it removed (1-based).
 */
const removeScript = (cleanup: string) => `
local drop = {}
for i = 1, #ARGV do drop[ARGV[i]] = i end
local keep, removed = {}, {}
for _, member in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if drop[member] then
    removed[#removed + 1] = drop[member]
    drop[member] = nil
    ${cleanup}
  else
    keep[#keep + 1] = member
  end
end
if #removed > 0 then
  redis.call('DEL', KEYS[1])
  for i = 1, #keep, 5000 do redis.call('RPUSH', KEYS[1], unpack(keep, i, math.min(i + 4999, #keep))) end
end
return removed`;

/** Removes the given members that are still waiting and not taken by a worker; returns their positions in ARGV (1-based). */
const removeFromSetScript = (set: MessageSet) => `
local removed = {}
for i, member in ipairs(ARGV) do
  if redis.call('ZSCORE', KEYS[1], member) and not (${set.taken}) then
    redis.call('ZREM', KEYS[1], member)
    removed[#removed + 1] = i
    ${set.cleanup}
  end
end
return removed`;

/**
 * Removes every waiting message that matches. Messages a worker took meanwhile are not counted
 * (they run); messages enqueued after the scan are not touched.
 */
export async function purgeMatching(redis: Redis, lists: WaitingMessages[], filter: PurgeFilter): Promise<Purged> {
  const purged: Purged = { purged: 0, taskIds: [] };
  for (const list of lists) {
    const { found, taskIds } = await matching(redis, list, filter, Number.MAX_SAFE_INTEGER);
    const script = isSet(list) ? removeFromSetScript(list) : removeScript(list.cleanup ?? '');
    for (let i = 0; i < found.length; i += REMOVE_BATCH) {
      const removed = (await redis.eval(script, 1, list.key, ...found.slice(i, i + REMOVE_BATCH))) as number[];
      purged.purged += removed.length;
      for (const at of removed) keepId(purged, taskIds[i + at - 1]);
    }
  }
  return purged;
}

/** A purge whose script returned the task ids it removed. */
export function purgedIds(ids: readonly (string | Buffer)[]): Purged {
  return { purged: ids.length, taskIds: ids.slice(0, PURGED_IDS_LIMIT).map(String) };
}

function keepId(purged: Purged, taskId: string | null | undefined): void {
  if (taskId && purged.taskIds!.length < PURGED_IDS_LIMIT) purged.taskIds!.push(taskId);
}

/**
 * Moves each key that is a list or a sorted set aside (RENAME, O(1)): from then on workers and
 * producers see an empty queue. Returns, for each moved, its new name, kind and length.
 */
const MOVE_ASIDE = `
local moved = {}
local n = #KEYS / 2
for i = 1, n do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind == 'list' or kind == 'zset' then
    local aside = KEYS[n + i]
    redis.call('RENAME', KEYS[i], aside)
    redis.call('EXPIRE', aside, ARGV[1])
    moved[#moved + 1] = aside
    moved[#moved + 1] = kind
    moved[#moved + 1] = kind == 'list' and redis.call('LLEN', aside) or redis.call('ZCARD', aside)
  end
end
return moved`;
/** Messages moved aside live this long if the service dies before it has read and deleted them. */
const ASIDE_TTL_S = 3600;

/**
 * Empties the queue's keys (lists or sorted sets of messages) at once, then reads what they held
 * for the tasks' ids: each key is moved aside in one script, read in pages (memory stays bounded
 * whatever the queue's size) and deleted (UNLINK: freed off Redis's main thread). `taskIdsOf`
 * reads a page of a key of `kind`; a message z4j cannot read is counted, not named.
 */
export async function purgeWhole(redis: Redis, keys: string[], taskIdsOf: (members: Buffer[], kind: 'list' | 'zset') => (string | null)[]): Promise<Purged> {
  const run = randomUUID();
  const asides = keys.map((key) => `${key}:z4j-purged:${run}`);
  const moved = (await redis.eval(MOVE_ASIDE, keys.length * 2, ...keys, ...asides, ASIDE_TTL_S)) as (string | number)[];
  const purged: Purged = { purged: 0, taskIds: [] };
  for (let i = 0; i < moved.length; i += 3) {
    const [aside, kind, length] = [String(moved[i]), moved[i + 1] as 'list' | 'zset', Number(moved[i + 2])];
    purged.purged += length;
    try {
      for (let from = 0; from < length && purged.taskIds!.length < PURGED_IDS_LIMIT; from += PAGE) {
        const page = kind === 'list' ? await redis.lrangeBuffer(aside, from, from + PAGE - 1) : await redis.zrangeBuffer(aside, from, String(from + PAGE - 1));
        for (const id of taskIdsOf(page, kind)) keepId(purged, id);
      }
    } catch {
      // Purged all the same (nothing reads the key aside): those not read are counted, not named.
    }
    await redis.unlink(aside).catch(() => undefined); // or its expiry removes it
  }
  return purged;
}
