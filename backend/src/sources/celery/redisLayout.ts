// Where kombu's Redis transport keeps things, as shaped by the transport options a Celery app
// sets in `broker_transport_options`. z4j cannot read the app's configuration, so the options
// that move keys ride on the broker URL z4j is given, under kombu's own names:
//
//   redis://host:6379/0?global_keyprefix=app1:&priority_steps=0,1,2,3,4,5,6,7,8,9&sep=:
//
// They are taken off the URL before it reaches the Redis client. Their effect, in kombu 5's
// transport (kombu/transport/redis.py):
// - global_keyprefix: prepended to every key kombu touches *and* to the pub/sub channels it
//   publishes on and subscribes to (its PrefixedStrictRedis and PrefixedRedisPubSub);
// - priority_steps: a queue is one list per step, `queue` for the first, `queue<sep><step>`
//   for the others; a message goes to the step at or below its priority (0–9, lower first);
// - sep: that separator, and the one joining a binding's routing key, pattern and queue;
// - fanout_prefix: the `/<db>.` before fanout channels (false: none, a string: that string).

import { brokerUrlQuery, isSentinelUrl, parseSentinelUrl, splitQuery } from '../../redisSentinel.js';

/** The transport options z4j reads off a Celery broker URL, with kombu's defaults. */
export const KOMBU_REDIS_OPTIONS = ['global_keyprefix', 'priority_steps', 'sep', 'fanout_prefix'] as const;

export interface RedisLayoutOptions {
  globalKeyprefix: string;
  prioritySteps: readonly number[];
  sep: string;
  /** null: kombu's default `/<db>.`. */
  fanoutPrefix: string | null;
}

const DEFAULTS: RedisLayoutOptions = { globalKeyprefix: '', prioritySteps: [0, 3, 6, 9], sep: '\x06\x16', fanoutPrefix: null };

/** Why a URL's transport options cannot be used (null: they can); for the config's message. */
export function layoutOptionsProblem(url: string): string | null {
  try {
    splitCeleryRedisUrl(url);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The URL for the Redis client (without kombu's options; any other query parameter stays, for
 * ioredis) and the layout its options describe. Throws, naming the option, on a bad value.
 */
export function splitCeleryRedisUrl(url: string): { clientUrl: string; layout: RedisLayout } {
  const parts = brokerUrlQuery(url);
  if (!parts) throw new Error('not a URL');
  const options = { ...DEFAULTS };
  const value = (name: string) => parts.query.get(name);
  const prefix = value('global_keyprefix');
  if (prefix !== null) options.globalKeyprefix = prefix;
  const sep = value('sep');
  if (sep !== null) {
    if (!sep) throw new Error('sep must not be empty');
    options.sep = sep;
  }
  const steps = value('priority_steps');
  if (steps !== null) options.prioritySteps = parseSteps(steps);
  const fanout = value('fanout_prefix');
  if (fanout !== null) {
    if (fanout === 'false') options.fanoutPrefix = '';
    else if (fanout !== 'true') options.fanoutPrefix = fanout;
  }
  for (const name of KOMBU_REDIS_OPTIONS) parts.query.delete(name);
  return { clientUrl: parts.rebuild(), layout: new RedisLayout(options, redisDb(url)) };
}

function parseSteps(text: string): number[] {
  const steps = text.split(',').map((s) => s.trim());
  const numbers = steps.map(Number);
  if (!steps.length || steps.some((s, i) => !/^\d+$/.test(s) || numbers[i]! > 255)) {
    throw new Error(`priority_steps must be comma-separated whole numbers 0–255, got "${text}"`);
  }
  if (numbers.some((n, i) => i > 0 && n <= numbers[i - 1]!)) throw new Error(`priority_steps must be in ascending order, got "${text}"`);
  if (numbers[0] !== 0) throw new Error(`priority_steps must start at 0, as kombu's own steps do, got "${text}"`);
  return numbers;
}

/** The Redis db number of a redis:// URL, or a redis+sentinel:// one's (kombu prefixes fanout channels with it). */
export function redisDb(url: string): number {
  if (isSentinelUrl(url)) return parseSentinelUrl(splitQuery(url).base).db; // its query may hold kombu's options
  const db = Number(new URL(url).pathname.replace('/', '') || 0);
  return Number.isInteger(db) ? db : 0;
}

export class RedisLayout {
  constructor(
    readonly options: RedisLayoutOptions,
    private readonly db: number,
  ) {}

  /** A key as kombu names it on the server. */
  key(name: string): string {
    return this.options.globalKeyprefix + name;
  }

  /** The lists of a queue, one per priority step, as keys on the server. */
  queueKeys(queue: string): string[] {
    return this.options.prioritySteps.map((step) => this.key(this.stepList(queue, step)));
  }

  /** The list a message of this priority goes to (kombu's `_q_for_pri`: the step at or below it). */
  queueKeyFor(queue: string, priority: number): string {
    const clamped = Math.max(0, Math.min(9, Math.trunc(priority) || 0));
    const steps = this.options.prioritySteps;
    let step = steps[0]!;
    for (const s of steps) if (s <= clamped) step = s;
    return this.key(this.stepList(queue, step));
  }

  private stepList(queue: string, step: number): string {
    return step === 0 ? queue : `${queue}${this.options.sep}${step}`;
  }

  /** The pub/sub channel of a fanout exchange (no routing key: pidbox broadcasts). */
  fanoutChannel(exchange: string): string {
    return this.key(`${this.fanoutPrefix}${exchange}`);
  }

  /** The patterns matching a fanout exchange's channels, with and without routing key (fanout_patterns on or off). */
  fanoutPatterns(exchange: string): string[] {
    const channel = this.fanoutChannel(exchange).replace(/[*?[\]\\]/g, (c) => `\\${c}`);
    return [`${channel}/*`, channel];
  }

  /** The set of a direct exchange's bindings, and a member routing `routingKey` to `queue`. */
  binding(exchange: string, routingKey: string, queue: string): { table: string; member: string } {
    return { table: this.key(`_kombu.binding.${exchange}`), member: [routingKey, '', queue].join(this.options.sep) };
  }

  private get fanoutPrefix(): string {
    return this.options.fanoutPrefix ?? `/${this.db}.`;
  }
}
