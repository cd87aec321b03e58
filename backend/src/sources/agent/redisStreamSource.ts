// Agent batches from Redis Streams (docs/agent-protocol.md): every `z4j:events:<project>` stream
// on the configured Redis, read with the deployment's consumer group (`z4j` unless configured) so
// replicas share the work. An entry is acknowledged only once its events are committed (or it was
// refused, which is final); entries a crashed consumer left pending are claimed after `claimIdleMs`.
// Another deployment may read the same streams with its own group: a batch of an agent unknown
// here is then left in the stream for it.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { newRedis } from '../../redis.js';
import type { AgentKeyStore } from '../../ingest/agentKeys.js';
import { verifyAgentBatch } from '../../ingest/agentBatch.js';
import type { AgentIngest } from '../../ingest/agentIngest.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { SourceHealth, type Source, type SourceStatus } from '../source.js';

export const STREAM_PREFIX = 'z4j:events:';
export const DEFAULT_GROUP = 'z4j';

export interface AgentStreamOptions {
  url: string;
  /** What metrics and logs call it (nameSources); default agent-redis-1. */
  name?: string;
  /** The deployment's consumer group (Z4J_AGENT_STREAM_GROUP); default `z4j`. */
  group?: string;
  claimIdleMs: number;
  blockMs?: number;
  consumer?: string;
}

/** Read as bytes: the signature is over the exact bytes the agent sent, and a batch is decoded once, after it is verified. */
type Entry = [id: Buffer, fields: Buffer[] | null];

export class AgentRedisStreamSource implements Source {
  readonly name: string;
  private reader: Redis | null = null;
  private cmd: Redis | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private streams: string[] = [];
  /** Per stream: whether another group (another deployment) reads it too, and when that was read. */
  private readonly otherGroups = new Map<string, { at: number; found: boolean }>();
  private lastDiscovery = 0;
  private lastClaim = 0;
  private inFlight = 0;
  /** Entries (stream and id) this consumer is storing now. */
  private readonly handling = new Set<string>();
  private readonly health: SourceHealth;
  private readonly consumer: string;
  private readonly group: string;

  constructor(
    private readonly opts: AgentStreamOptions,
    private readonly keys: AgentKeyStore,
    private readonly ingest: AgentIngest,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.name = opts.name ?? 'agent-redis-1';
    this.health = new SourceHealth(this.name, opts.url, metrics, log);
    this.consumer = opts.consumer ?? `${hostname()}-${process.pid}`;
    this.group = opts.group ?? DEFAULT_GROUP;
  }

  async start(): Promise<void> {
    const connect = (name: string) => newRedis(this.opts.url, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: name });
    this.reader = connect('z4j-agent-reader');
    this.cmd = connect('z4j-agent-commands');
    this.reader.on('ready', () => this.health.connected(true));
    this.reader.on('close', () => this.health.connected(false));
    this.reader.on('error', (err) => this.health.error(err));
    this.cmd.on('error', () => undefined); // reported through the reader
    await Promise.all([this.reader.connect(), this.cmd.connect()]).catch((err) => this.health.error(err));
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.discover();
        if (!this.streams.length) {
          await sleep(1000);
          continue;
        }
        await this.claimAbandoned();
        const res = (await this.reader!.xreadgroupBuffer('GROUP', this.group, this.consumer, 'COUNT', 20, 'BLOCK', this.opts.blockMs ?? 1000, 'STREAMS', ...this.streams, ...this.streams.map(() => '>'))) as [Buffer, Entry[]][] | null;
        for (const [stream, entries] of res ?? []) for (const entry of entries) await this.dispatch(stream.toString(), entry);
      } catch (err) {
        if (this.stopped) break;
        this.health.error(err);
        // A stream was deleted and recreated, or Redis came back empty: forget the streams we
        // knew, so discovery sets their groups up again (it skips streams it already knows).
        if (String(err).includes('NOGROUP')) {
          this.streams = [];
          this.lastDiscovery = 0;
        }
        await sleep(1000);
      }
    }
  }

  /** Finds agent streams (new projects appear at any time) and makes sure our group exists on each. */
  private async discover(): Promise<void> {
    // Every 10 s; every second while there is nothing to read (the first agent may appear any moment).
    if (Date.now() - this.lastDiscovery < (this.streams.length ? 10_000 : 1000)) return;
    this.lastDiscovery = Date.now();
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.cmd!.scan(cursor, 'MATCH', `${STREAM_PREFIX}*`, 'COUNT', 500, 'TYPE', 'stream');
      cursor = next;
      for (const k of keys) found.add(k);
    } while (cursor !== '0');
    for (const stream of found) {
      if (this.streams.includes(stream)) continue;
      // From the start of the stream: what agents sent before z4j ever ran is backlog, not history to skip.
      await this.cmd!.xgroup('CREATE', stream, this.group, '0', 'MKSTREAM').catch((err) => {
        if (!String(err).includes('BUSYGROUP')) throw err;
      });
    }
    this.streams = [...found].sort();
  }

  /** Entries delivered to a consumer that died before acknowledging them. */
  private async claimAbandoned(): Promise<void> {
    if (Date.now() - this.lastClaim < Math.max(1000, this.opts.claimIdleMs / 2)) return;
    this.lastClaim = Date.now();
    for (const stream of this.streams) {
      let start = '0-0';
      do {
        const [next, entries] = (await this.cmd!.callBuffer('XAUTOCLAIM', [stream, this.group, this.consumer, this.opts.claimIdleMs, start, 'COUNT', 100])) as [Buffer, Entry[], Buffer[]];
        // Ours still being stored (a slow database) are not started twice: they are acknowledged when committed.
        for (const entry of entries) if (entry && !this.handling.has(entryKey(stream, entry))) await this.dispatch(stream, entry);
        start = next.toString();
      } while (start !== '0-0' && !this.stopped);
    }
  }

  /**
   * Starts storing an entry without waiting for its commit, once the batches in hand leave room
   * for it (AgentIngest.budget): until then reading stops, and the backlog waits in Redis.
   */
  private async dispatch(stream: string, entry: Entry): Promise<void> {
    const bytes = entryBytes(entry);
    const key = entryKey(stream, entry);
    this.handling.add(key);
    await this.ingest.budget.take(bytes);
    this.inFlight++;
    this.health.message();
    void this.handle(stream, entry)
      .catch((err) => this.health.error(err)) // left pending: claimed again later
      .finally(() => {
        this.inFlight--;
        this.handling.delete(key);
        this.ingest.budget.release(bytes);
      });
  }

  private async handle(stream: string, [id, flat]: Entry): Promise<void> {
    const fields = new Map<string, Buffer>();
    for (let i = 0; flat && i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
    const text = (name: string) => fields.get(name)?.toString() ?? '';
    const verified = await verifyAgentBatch(fields.get('batch') ?? Buffer.alloc(0), text('agent'), text('sig'), this.keys);
    let outcome: string;
    // A batch of an agent this deployment does not know, on a stream another deployment reads too
    // (with its own group): most likely that one's, so left for it, and not worth a warning each.
    const othersToRead = !verified.ok && verified.reason === 'unknown_agent' && (await this.readByAnotherGroup(stream));
    if (!verified.ok) {
      outcome = `refused_${verified.reason}`;
      const seen = { source: this.name, stream, entry: id.toString(), reason: verified.reason, detail: verified.detail };
      if (othersToRead) this.log.debug(seen, 'agent batch of an unknown agent left for the other group on its stream');
      else this.log.warn(seen, 'agent batch refused');
    } else {
      this.ingest.budget.learn(fields.get('batch')!.length, verified.batch.events.length);
      // 'duplicate': stored before (a redelivery, or a replay) — nothing to do again.
      const stored = await this.ingest.store(verified.batch, 'redis', this.name);
      outcome = stored.outcome;
      if (stored.detail) this.log.warn({ source: this.name, stream, entry: id.toString(), outcome, detail: stored.detail }, 'agent batch refused');
    }
    // Refusals are acknowledged too: a bad signature does not get better by retrying. Then the
    // entry goes: the stream only carries batches to z4j, and a batch's retry payloads (the
    // task's call, in clear on the broker as the task's own message is) stay no longer than it
    // takes to store them sealed. MAXLEN is left to bound a stream z4j does not read, and the
    // batches left for another deployment: deleted here, its group would never read them.
    if (othersToRead) await this.cmd!.xack(stream, this.group, id);
    else await this.cmd!.multi().xack(stream, this.group, id).xdel(stream, id).exec();
    this.metrics.agentBatches.inc({ transport: 'redis', outcome });
  }

  /** Asked only for a batch of an unknown agent; read again after a second (a deployment may start any time). */
  private async readByAnotherGroup(stream: string): Promise<boolean> {
    const known = this.otherGroups.get(stream);
    if (known && Date.now() - known.at < 1000) return known.found;
    const found = ((await this.cmd!.xinfo('GROUPS', stream)) as unknown[]).length > 1;
    this.otherGroups.set(stream, { at: Date.now(), found });
    return found;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reader?.disconnect();
    await this.loop?.catch(() => undefined);
    // Entries still being stored finish if storage allows; past the deadline they stay pending and are claimed later.
    const deadline = Date.now() + 10_000;
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(20);
    this.cmd?.disconnect();
    this.health.connected(false);
  }

  status(): SourceStatus {
    return this.health.status();
  }
}

const entryKey = (stream: string, [id]: Entry) => `${stream}\u0000${id.toString()}`;

function entryBytes([, flat]: Entry): number {
  let n = 0;
  for (const part of flat ?? []) n += part.length;
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
