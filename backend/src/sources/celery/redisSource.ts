// Celery events over Redis, the way Flower reads them: PSUBSCRIBE to the event exchange's
// fanout channels. Pub/sub is lossy by nature (nobody listening = gone; a slow reader is cut
// off by Redis), so this source never waits on the pipeline: while its queue is nearly full
// the socket is held back for a bounded while (Redis keeps what follows, see socketHold.ts),
// and what still overflows is dropped and counted; a reader that falls behind with room in the
// queue drops (counted) shortly before Redis would cut it off (backlogShed.ts).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { newRedis } from '../../redis.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type { CeleryTaskMessage } from '../../engines/celery/taskMessage.js';
import { SourceHealth, type Source, type SourceStatus } from '../source.js';
import { BacklogShed, REDIS_DEFAULT_PUBSUB_LIMITS, parsePubsubLimits, type OutputLimits } from '../backlogShed.js';
import { SocketHold, type HoldReport } from '../socketHold.js';
import { countMatching, purgeMatching, purgeWhole, UNREADABLE, type MatchCount, type MessageList, type PurgeFilter, type WaitingTask } from '../../engines/filteredPurge.js';
import type { Purged } from '../../engines/driver.js';
import type { CeleryBroker } from './broker.js';
import { candidatesOf, type CeleryTarget } from './celeryIngest.js';
import { countRedisEvents, decodeRedisMessage, encodeRedisMessage } from './kombu.js';
import { allAnswered, broadcastBody, broadcastHeaders, replyExchange, requestBody, type PidboxReply } from './pidbox.js';
import { splitCeleryRedisUrl, type RedisLayout } from './redisLayout.js';

export interface CeleryRedisOptions {
  /** The broker URL, with kombu's transport options that move keys as query parameters (redisLayout.ts). */
  url: string;
  /** What metrics and logs call it (nameSources); default celery-redis-1. */
  name?: string;
  eventExchange: string;
  controlExchange: string;
  enableEventsIntervalS: number;
  /** Most bytes of events left waiting in Redis while the pipeline is full; 0 drops at once. */
  holdBytes: number;
}

// Messages are decoded in slices of the event loop, not as they are read. One read of a busy
// subscriber's socket delivers up to megabytes at once, and decoding them all in one go
// (≈ 60 µs per message of 8–9 events) blocked the loop for tens of ms: every writer lane then
// waited that long for each of its next statements, idle in its transaction (event loop lag p99
// 77 ms, BENCHMARKS.md session 8).
const SLICE_MS = 2;
/** Past this many undecoded messages the socket is not read until they are decoded (bounds memory). */
const MAX_PENDING = 512;

/** The task name and id in a waiting message's headers (protocol 2); unreadable for protocol 1. */
function celeryTask(raw: Buffer): WaitingTask {
  try {
    const headers = JSON.parse(raw.toString('utf8'))?.headers;
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return { name: text(headers?.task), taskId: text(headers?.id) };
  } catch {
    return UNREADABLE;
  }
}

const REFRESH_REPLY_BINDING = `
redis.call('SADD', KEYS[1], ARGV[1])
local now = redis.call('TIME')
redis.call('ZADD', KEYS[2], 'GT', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3]), ARGV[2])
`;
/** kombu's least binding lifetime (MIN_BINDING_TTL): what a reply queue's table gets from kombu itself. */
const REPLY_BINDING_TTL_MS = 3_600_000;

export class CeleryRedisSource implements Source, CeleryBroker {
  readonly name: string;
  private sub: Redis | null = null;
  private pub: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly health: SourceHealth;
  private hold: SocketHold | null = null;
  private shed: BacklogShed | null = null;
  /** Redis's limits for pub/sub clients' output buffers, read at start (CONFIG GET). */
  private limits: OutputLimits = REDIS_DEFAULT_PUBSUB_LIMITS;
  private lastHoldWarning = 0;
  private lastShedWarning = 0;
  private warnedNoClientList = false;
  /** Unique, so a hold can find this subscriber's output buffer among other replicas' in CLIENT LIST. */
  private readonly subscriberName = `z4j-celery-events-${randomUUID().slice(0, 8)}`;
  /** Messages read and not yet decoded, from `pendingHead` on. */
  private pending: Buffer[] = [];
  private pendingHead = 0;
  private decodeScheduled = false;
  /** Why the subscriber's socket is not being read (the queue's hold, undecoded messages). */
  private readonly pausedFor = new Set<'hold' | 'pending'>();
  private readonly holdReading = { pause: () => this.pauseReading('hold'), resume: () => this.resumeReading('hold') };
  private eventTarget: CeleryTarget | null = null;
  /** Where kombu keeps queues, bindings and channels under the app's transport options. */
  private readonly layout: RedisLayout;
  private readonly clientUrl: string;

  constructor(
    private readonly opts: CeleryRedisOptions,
    private readonly target: Omit<CeleryTarget, 'source'>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    ({ clientUrl: this.clientUrl, layout: this.layout } = splitCeleryRedisUrl(opts.url));
    this.name = opts.name ?? 'celery-redis-1';
    this.health = new SourceHealth(this.name, opts.url, metrics, log);
  }

  async start(): Promise<void> {
    const connect = (connectionName: string) => newRedis(this.clientUrl, { lazyConnect: true, maxRetriesPerRequest: null, connectionName });
    this.sub = connect(this.subscriberName);
    this.pub = connect('z4j-celery-events');
    const target: CeleryTarget = { ...this.target, source: this.name };
    this.sub.on('ready', () => this.health.connected(true));
    this.sub.on('close', () => {
      this.health.connected(false);
      if (this.hold?.isHolding || this.pausedFor.size) {
        this.log.warn({ source: this.name }, 'Redis closed the event subscriber while it was held back or behind: the events in its output buffer are lost (not counted); raise Redis\'s client-output-buffer-limit for pubsub or lower Z4J_CELERY_REDIS_HOLD_BYTES');
      }
    });
    this.sub.on('error', (err) => this.health.error(err));
    this.pub.on('error', () => undefined); // reported through the subscriber
    this.hold = new SocketHold(this.target.pipeline, { maxBytes: this.opts.holdBytes, backlogBytes: () => this.backlogBytes(), onHeld: (report) => this.held(report) });
    this.shed = new BacklogShed({
      limits: () => this.limits,
      backlogBytes: () => this.backlogBytes(),
      // Held back on purpose is not behind: the hold bounds (and reads) what Redis keeps meanwhile.
      isBehind: () => !this.hold?.isHolding && (this.pausedFor.has('pending') || this.pendingHead < this.pending.length),
      onChange: (shedding, backlog) => this.shedChanged(shedding, backlog),
    });
    this.eventTarget = target;
    this.sub.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
      this.health.message();
      this.pending.push(message);
      if (this.pending.length - this.pendingHead >= MAX_PENDING) this.pauseReading('pending');
      this.scheduleDecode();
    });
    const connected = await Promise.all([this.sub.connect(), this.pub.connect()]).then(() => true, (err) => {
      this.health.error(err);
      return false;
    });
    void this.readOutputLimits(); // not awaited: with Redis down it waits for Redis
    // kombu publishes fanout messages on "/<db>.<exchange>/<routing key>" (fanout_patterns)
    // or "/<db>.<exchange>" (without): listen to both shapes.
    // Awaited only when Redis is there (events published once start() returns are then heard);
    // with Redis down it would wait for Redis, and the service would not start (nor answer
    // /readyz). ioredis sends it once connected, and again after every reconnect.
    const subscribed = this.sub.psubscribe(...this.layout.fanoutPatterns(this.opts.eventExchange)).catch((err) => this.health.error(err));
    if (connected) await subscribed;
    if (this.opts.enableEventsIntervalS > 0) {
      void this.enableEvents();
      this.timer = setInterval(() => void this.enableEvents(), this.opts.enableEventsIntervalS * 1000);
      this.timer.unref();
    }
  }

  /** Decodes the next slice after the I/O that came meanwhile (e.g. the writer lanes' replies). */
  private scheduleDecode(): void {
    if (this.decodeScheduled) return;
    this.decodeScheduled = true;
    setImmediate(this.decodeSlice);
  }

  private readonly decodeSlice = (): void => {
    this.decodeScheduled = false;
    if (this.decodePending(SLICE_MS)) return;
    // While the queue's hold lasts, what was read stays undecoded (the hold's end schedules it).
    if (this.hold?.isHolding) return;
    this.shed?.behind(); // read faster than decoded: Redis may be holding more and more for us
    this.scheduleDecode();
  };

  /**
   * Decodes pending messages for up to `budgetMs`; true once none is left. It stops when the
   * queue's hold begins: messages already read then wait here, undecoded, instead of filling
   * the last tenth of the queue and overflowing it (512 messages are ≈ 4,000 events, a fifth of
   * the default queue). Only `stop()` decodes them during a hold (`evenIfHeld`).
   */
  private decodePending(budgetMs: number, evenIfHeld = false): boolean {
    const target = this.eventTarget;
    if (!target || !this.hold) return true;
    const until = performance.now() + budgetMs;
    while (this.pendingHead < this.pending.length) {
      if (this.hold.isHolding && !evenIfHeld) break;
      const message = this.pending[this.pendingHead++]!;
      // A full queue would drop all its events anyway: they are counted, not decoded. Decoding
      // only to drop kept the reader behind the sender at the worst time: Redis's buffer for us
      // passed its hard limit (32 MB) and Redis cut the subscriber off, losing ≈ 110,000 events
      // uncounted (BENCHMARKS.md, session 10).
      if (target.pipeline.full || this.shed?.shedding) target.pipeline.countDropped(this.name, countRedisEvents(message));
      else for (const c of candidatesOf(target, () => decodeRedisMessage(message))) target.pipeline.tryOffer(this.name, c);
      this.hold.received(this.holdReading);
      if (performance.now() >= until) break;
    }
    if (this.pendingHead < this.pending.length) {
      // Decoded ones are let go even while the flow never lets the queue empty.
      if (this.pendingHead >= MAX_PENDING) {
        this.pending = this.pending.slice(this.pendingHead);
        this.pendingHead = 0;
      }
      return false;
    }
    this.pending = [];
    this.pendingHead = 0;
    this.resumeReading('pending');
    return true;
  }

  private pauseReading(why: 'hold' | 'pending'): void {
    this.sub?.stream.pause(); // every time: after a reconnect the stream is a new one
    this.pausedFor.add(why);
  }

  private resumeReading(why: 'hold' | 'pending'): void {
    if (this.pausedFor.delete(why) && !this.pausedFor.size) this.sub?.stream.resume();
  }

  /** What Redis holds in our subscriber's output buffer (`omem`), found by its connection name. */
  private async backlogBytes(): Promise<number | null> {
    let list: string;
    try {
      list = String(await this.pub!.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    } catch (err) {
      if (!this.warnedNoClientList) {
        this.warnedNoClientList = true;
        this.log.warn({ source: this.name, err: String(err) }, 'Redis refuses CLIENT LIST: the subscriber cannot see what Redis holds for it, so it holds back only briefly before dropping');
      }
      return null;
    }
    const line = list.split('\n').find((l) => l.includes(` name=${this.subscriberName} `));
    const omem = line?.match(/ omem=(\d+)/)?.[1];
    return omem === undefined ? null : Number(omem);
  }

  /** Redis's output buffer limits for pub/sub clients (its defaults stand where CONFIG is refused). */
  private async readOutputLimits(): Promise<void> {
    try {
      const reply = (await this.pub!.config('GET', 'client-output-buffer-limit')) as string[];
      this.limits = parsePubsubLimits(String(reply?.[1] ?? '')) ?? this.limits;
    } catch {
      // managed Redis often refuses CONFIG
    }
  }

  private shedChanged(shedding: boolean, backlog: number): void {
    if (!shedding || Date.now() - this.lastShedWarning < 10_000) return;
    this.lastShedWarning = Date.now();
    this.log.warn({ source: this.name, redisHoldsBytes: backlog, ...this.limits },
      'Celery events arrive faster than they are read and Redis is about to cut the subscriber off: dropping (counted) until Redis holds less than half its soft limit for it');
  }

  private held(report: HoldReport): void {
    this.metrics.sourceHeldSeconds.inc({ source: this.name }, report.seconds);
    this.scheduleDecode(); // what was read while holding
    if (!report.drained && Date.now() - this.lastHoldWarning > 10_000) {
      this.lastHoldWarning = Date.now();
      this.log.warn({ source: this.name, heldSeconds: report.seconds }, 'the ingest queue stayed full while Celery events were held back in Redis: dropping (counted) until it drains');
    }
  }

  /** Asks every worker to send task events (they are off unless started with -E). */
  async enableEvents(): Promise<void> {
    await this.broadcast('enable_events').catch((err) => this.log.warn({ source: this.name, err: String(err) }, 'enable_events broadcast failed'));
  }

  async broadcast(method: string, args: Record<string, unknown> = {}, destination: string[] | null = null): Promise<void> {
    const exchange = `${this.opts.controlExchange}.pidbox`;
    const message = encodeRedisMessage(broadcastBody(method, args, destination), broadcastHeaders(10), { exchange, routing_key: '' });
    // Broadcasts carry routing key "": kombu publishes them on "/<db>.<exchange>" with no
    // suffix, the channel workers subscribe to (captured in tests/fixtures/celery/WIRE-NOTES.md).
    await this.pub!.publish(this.layout.fanoutChannel(exchange), message);
  }

  /**
   * A request with a reply queue of its own, routed as kombu's Redis transport routes a direct
   * exchange: a member `<ticket><sep><sep><queue>` of `_kombu.binding.<reply exchange>` makes
   * the worker LPUSH its reply onto the list `<queue>`, which we BRPOP on a connection of our
   * own (BRPOP blocks it). The binding and the list are removed afterwards.
   */
  async request(method: string, args: Record<string, unknown>, destination: string[] | null, timeoutMs: number, awaited = destination ?? []): Promise<PidboxReply[]> {
    const ticket = randomUUID();
    const exchange = replyExchange(this.opts.controlExchange);
    const queue = `${ticket}.${exchange}`;
    const { table, member: binding } = this.layout.binding(exchange, ticket, queue);
    const replyList = this.layout.key(queue);
    const replies: PidboxReply[] = [];
    const waiter = this.pub!.duplicate({ connectionName: 'z4j-celery-control' });
    waiter.on('error', () => undefined); // surfaced by the BRPOP that fails
    try {
      await this.bindForReplies(table, binding, exchange);
      const pidbox = `${this.opts.controlExchange}.pidbox`;
      const message = encodeRedisMessage(requestBody(method, args, destination, ticket, this.opts.controlExchange), broadcastHeaders(timeoutMs / 1000), { exchange: pidbox, routing_key: '' });
      await this.pub!.publish(this.layout.fanoutChannel(pidbox), message);
      const deadline = Date.now() + timeoutMs;
      while (!allAnswered(replies, awaited)) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const got = await waiter.brpop(replyList, Math.max(left / 1000, 0.01));
        if (!got) break;
        const reply = decodeRedisMessage(got[1]);
        const headers = (JSON.parse(got[1]) as { headers?: { ticket?: string } }).headers;
        if (headers?.ticket === ticket && reply && typeof reply === 'object') replies.push(reply as PidboxReply);
      }
      return replies;
    } finally {
      waiter.disconnect();
      await this.pub!.multi().srem(table, binding).del(replyList).exec().catch(() => undefined);
    }
  }

  /**
   * Adds the reply binding, and keeps kombu (≥ 5.7) from sweeping its table meanwhile: a
   * channel consuming an expiring queue deletes every binding table whose deadline in
   * `_kombu.binding_deadlines` has passed, and the reply exchange's gets one from every
   * `celery inspect` client, overdue an hour after the last. The deadline is raised as kombu's
   * own REFRESH_BINDING raises it (never lowered, server clock); a Redis without ZADD GT (< 6.2)
   * runs no kombu that sweeps, and gets the binding alone.
   */
  private async bindForReplies(table: string, member: string, exchange: string): Promise<void> {
    try {
      await this.pub!.eval(REFRESH_REPLY_BINDING, 2, table, this.layout.key('_kombu.binding_deadlines'), member, exchange, REPLY_BINDING_TTL_MS);
    } catch {
      await this.pub!.sadd(table, member);
    }
  }

  async queueDepth(queue: string): Promise<number> {
    const lens = await Promise.all(this.layout.queueKeys(queue).map((n) => this.pub!.llen(n)));
    return lens.reduce((a, b) => a + b, 0);
  }

  async publishTask(queue: string, message: CeleryTaskMessage): Promise<void> {
    const envelope = encodeRedisMessage(message.body, message.headers, { exchange: '', routing_key: queue }, { correlation_id: message.correlationId, reply_to: '', priority: message.priority }, message.content);
    // kombu LPUSHes onto the list of the message's priority and workers BRPOP: FIFO from the right.
    await this.pub!.lpush(this.layout.queueKeyFor(queue, message.priority), envelope);
  }

  async purgeQueue(queue: string): Promise<Purged> {
    return purgeWhole(this.pub!, this.layout.queueKeys(queue), (raws) => raws.map((raw) => celeryTask(raw).taskId));
  }

  /** The queue's lists (one per priority step), read by the task name in each envelope's headers (protocol 2). */
  private lists(queue: string): MessageList[] {
    return this.layout.queueKeys(queue).map((key) => ({ key, producerEnd: 'left' as const, read: async (raws: Buffer[]) => raws.map(celeryTask) }));
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    return countMatching(this.pub!, this.lists(queue), filter);
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    return purgeMatching(this.pub!, this.lists(queue), filter);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.shed?.stop();
    this.decodePending(Infinity, true); // what was read is offered before the pipeline stops
    this.sub?.disconnect();
    this.pub?.disconnect();
    this.health.connected(false);
  }

  status(): SourceStatus {
    return this.health.status();
  }


}
