// The ingestion pipeline: sources offer raw candidate events; they are validated, scrubbed
// and held in bounded writer lanes (a task always in the same lane, so concurrent transactions
// never touch the same task), each drained in batches. Sources that can wait
// (AMQP, streams) are paced by the writer through `offer`; lossy ones (Redis pub/sub) use
// `tryOffer` and the overflow is counted (they may hold their input back first: `waitBelow`).
// A bad event never stops the good ones: a failed batch is split until the offending event is
// isolated and set aside.
import { createHash } from 'node:crypto';
import { isTransientDbError, sqlState } from '../db/db.js';
import type { Db } from '../db/db.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { cleanString, isSensitiveKey, REDACTED, scrub, DEFAULT_SCRUB, type ScrubOptions } from '../redact/redact.js';
import { BatchWriter } from './batchWriter.js';
import { clampToReceipt, validateEnvelope, type Envelope } from './envelope.js';
import { Lane } from './lane.js';

export interface PipelineOptions {
  capacity: number;
  batchSize: number;
  /** Concurrent writer transactions; each task always goes to the same one. */
  writers?: number;
  flushMs: number;
  maxFieldChars: number;
  /** How far past its receipt an event's time may be before it is stored at its receipt (clampToReceipt). */
  maxClockAheadMs?: number;
}

/** Clocks of one network differ by seconds; a time minutes past its receipt is no clock's mere drift. */
const MAX_CLOCK_AHEAD_MS = 300_000;

interface Item {
  envelope: Envelope;
  source: string;
  /** Called once the event is durably stored or definitively set aside (e.g. AMQP ack). */
  done?: () => void;
}

// Short identity fields the envelope schema already bounded: no secrets expected there.
const KNOWN_SHORT_FIELDS = new Set(['name', 'queue', 'rootId', 'parentId', 'groupId', 'eta', 'expires', 'software', 'routingKey', 'exchange', 'producer']);
const MAX_REJECT_SAMPLES = 1000;
/** Events set aside in a row for failing with no database error, before that is taken for a fault of z4j's own. */
const MAX_CODELESS_REJECTS_IN_A_ROW = 20;

export class IngestPipeline {
  private readonly lanes: Lane<Item>[];
  private spaceWaiters: (() => void)[] = [];
  private readonly sensitiveFields = new Map<string, boolean>();
  private running: Promise<void> | null = null;
  private stopping = false;
  /** Events set aside for failing with no SQLSTATE since the last batch written. */
  private codeLessRejectsInARow = 0;
  private readonly writer: BatchWriter;
  private readonly scrubOptions: ScrubOptions;
  private rejectSamples: { source: string; reason: string; sample: string }[] = [];
  private lastRejectLog = 0;
  /** Totals since start, for health reporting and tests. */
  readonly totals = { persisted: 0, duplicates: 0, invalid: 0, dropped: 0, batches: 0 };

  constructor(
    private readonly db: Db,
    private readonly opts: PipelineOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.writer = new BatchWriter(db);
    this.lanes = Array.from({ length: Math.max(1, opts.writers ?? 1) }, () => new Lane<Item>(opts.batchSize, opts.flushMs));
    this.scrubOptions = { ...DEFAULT_SCRUB, maxStringChars: opts.maxFieldChars };
    metrics.beforeScrape.push(() => this.countReceived());
  }

  get size(): number {
    let n = 0;
    for (const lane of this.lanes) n += lane.size;
    return n;
  }

  /**
   * Validates and queues; waits while the queue is full (backpressure). A task event's sealed
   * retry payload, if given, is stored with it.
   */
  async offer(source: string, candidate: unknown, done?: () => void, sealedPayload?: Buffer): Promise<void> {
    return this.offerAll(source, [candidate], done, sealedPayload && (() => sealedPayload));
  }

  /**
   * `offer` for a message's or a batch's events, in order: one call, waiting only while the
   * queue is full. `done` is called once per event. (A batch offered event by event made a
   * promise and a callback per event, ≈ 500 per agent batch.)
   */
  async offerAll(source: string, candidates: readonly unknown[], done?: () => void, sealedPayloadOf?: (candidate: unknown) => Buffer | undefined): Promise<void> {
    for (const candidate of candidates) {
      const item = this.admit(source, candidate, done);
      if (!item) continue;
      const sealed = sealedPayloadOf?.(candidate);
      if (sealed && item.envelope.type === 'task') item.envelope.sealedPayload = sealed;
      while (this.full && !this.stopping) await new Promise<void>((r) => this.spaceWaiters.push(r));
      this.push(item);
    }
  }

  /**
   * Offers events that can wait (a purge's revocations, up to a million) in slices, each once the
   * queue is less than half full: they never fill it, so a lossy source never drops for them.
   * Ends early when the pipeline stops, or `signal` aborts. `done`: as offerAll's.
   */
  async offerUnhurried(source: string, candidates: readonly unknown[], done?: () => void, signal?: AbortSignal): Promise<void> {
    const slice = Math.max(1, Math.floor(this.opts.capacity / 4));
    const ended = () => this.stopping || signal?.aborted === true;
    for (let i = 0; i < candidates.length && !ended(); i += slice) {
      while (!ended() && !this.below(0.5)) await this.waitBelow(0.5, 1000);
      if (!ended()) await this.offerAll(source, candidates.slice(i, i + slice), done);
    }
  }

  /** Validates and queues if there is room; otherwise drops and counts. Returns false on drop. */
  tryOffer(source: string, candidate: unknown, done?: () => void): boolean {
    if (this.full) {
      this.countDropped(source, 1);
      done?.();
      return false;
    }
    const item = this.admit(source, candidate, done);
    if (item) this.push(item);
    return true;
  }

  /**
   * Events the pipeline queues and writes at once: its queue plus a batch in every writer. A
   * source that holds its input until it is committed (agent streams, AMQP) keeps about this
   * many in flight; with fewer, the writers wait between batches while the backlog stays in the
   * broker (BENCHMARKS.md, agent stream ingest).
   */
  get inFlightCapacity(): number {
    return this.opts.capacity + this.lanes.length * this.opts.batchSize;
  }

  /** Whether the queue is full: what a lossy source offers now is dropped. */
  get full(): boolean {
    return this.size >= this.opts.capacity;
  }

  /** Counts events a lossy source dropped because the queue was full. */
  countDropped(source: string, events: number): void {
    this.totals.dropped += events;
    this.metrics.eventsDropped.inc({ source }, events);
  }

  /** Whether the queue holds less than `fraction` of its capacity. */
  below(fraction: number): boolean {
    return this.size < this.opts.capacity * fraction;
  }

  /**
   * Resolves true once the queue holds less than `fraction` of its capacity, false when
   * `timeoutMs` passes first (or the pipeline stops). For lossy sources that can hold their
   * input back for a while, e.g. by not reading a socket.
   */
  async waitBelow(fraction: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.below(fraction)) {
      const left = deadline - Date.now();
      if (left <= 0 || this.stopping) return false;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        timer = setTimeout(r, left);
        this.spaceWaiters.push(r);
      });
      clearTimeout(timer);
    }
    return true;
  }

  /** Records an input that could not even be decoded into a candidate event. */
  /** Counts events a source read and leaves aside on purpose (e.g. an app's own Celery events): not invalid, not sampled. */
  ignore(source: string, reason: string): void {
    this.metrics.eventsIgnored.inc({ source, reason });
  }

  reject(source: string, reason: string, sample: unknown): void {
    this.totals.invalid++;
    this.metrics.eventsInvalid.inc({ source, reason });
    if (this.rejectSamples.length < MAX_REJECT_SAMPLES) {
      let text: string;
      try {
        text = typeof sample === 'string' ? sample : JSON.stringify(scrub(sample, this.scrubOptions));
      } catch {
        text = String(sample);
      }
      this.rejectSamples.push({ source, reason, sample: scrub(text.slice(0, 2000), this.scrubOptions) as string });
    }
    const now = Date.now();
    if (now - this.lastRejectLog > 5000) {
      this.lastRejectLog = now;
      this.log.warn({ source, reason, invalidTotal: this.totals.invalid }, 'rejected an event');
    }
  }

  start(): void {
    this.stopping = false;
    this.running ??= Promise.all(this.lanes.map((lane, i) => this.loop(lane, i === 0))).then(
      () => undefined,
    ).finally(() => {
      this.running = null;
    });
  }

  /** Stops after writing what is queued (bounded by `deadlineMs`). */
  async stop(deadlineMs = 10000): Promise<void> {
    this.stopping = true;
    for (const lane of this.lanes) lane.wake();
    for (const w of this.spaceWaiters.splice(0)) w();
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    await this.flushRejects();
  }

  /** Resolves once everything queued so far has been written (tests, benchmarks). */
  async drained(pollMs = 20): Promise<void> {
    while (this.size > 0 || this.lanes.some((l) => l.writing)) await new Promise((r) => setTimeout(r, pollMs));
  }

  /** Events received per source since the counter was last read (a scrape brings it up to date, not each event). */
  private readonly receivedSince = new Map<string, { n: number }>();

  private countReceived(): void {
    for (const [source, c] of this.receivedSince) {
      if (c.n === 0) continue;
      this.metrics.eventsReceived.inc({ source }, c.n);
      c.n = 0;
    }
  }

  private admit(source: string, candidate: unknown, done?: () => void): Item | null {
    let received = this.receivedSince.get(source);
    if (!received) this.receivedSince.set(source, (received = { n: 0 }));
    received.n++;
    const v = validateEnvelope(candidate);
    if (!v.ok) {
      this.reject(source, v.reason, candidate);
      done?.();
      return null;
    }
    const envelope = v.envelope;
    if (clampToReceipt(envelope, Date.now(), this.opts.maxClockAheadMs ?? MAX_CLOCK_AHEAD_MS)) this.metrics.eventsClockAhead.inc({ source });
    const f = envelope.fields as Record<string, unknown>;
    for (const key of Object.keys(f)) {
      const value = f[key];
      if (value === undefined || value === null) continue;
      // A field named like a secret is one, whatever its value (as the scrubber treats nested keys).
      if (this.isSensitiveField(key)) {
        if (value !== '') f[key] = REDACTED;
        continue;
      }
      if (typeof value === 'number' || typeof value === 'boolean') continue;
      // Payload is scrubbed for secrets; the known, validated short fields only made storable.
      f[key] = KNOWN_SHORT_FIELDS.has(key) && typeof value === 'string' ? cleanString(value, 1024) : scrub(value, this.scrubOptions);
    }
    return { envelope, source, done };
  }

  /** isSensitiveKey per field name, remembered: every event names the same few fields. */
  private isSensitiveField(key: string): boolean {
    let sensitive = this.sensitiveFields.get(key);
    if (sensitive === undefined) {
      if (this.sensitiveFields.size >= 4096) this.sensitiveFields.clear(); // names an agent made up
      this.sensitiveFields.set(key, (sensitive = isSensitiveKey(key)));
    }
    return sensitive;
  }

  /** Tasks are spread over lanes by id, so concurrent transactions never touch the same task. */
  private laneOf(envelope: Envelope): Lane<Item> {
    if (this.lanes.length === 1 || envelope.type !== 'task') return this.lanes[0]!;
    return this.lanes[laneIndex(envelope.taskId, this.lanes.length)]!;
  }

  // The depth gauge is set when a writer takes a batch (every flush interval at most), not per event.
  private push(item: Item): void {
    this.laneOf(item.envelope).push(item);
  }

  private async loop(lane: Lane<Item>, flushesRejects: boolean): Promise<void> {
    let lastRejectFlush = Date.now();
    while (!this.stopping || lane.size > 0) {
      if (lane.size === 0) await lane.waitForItems(1000);
      // Give a small batch a moment to fill: fewer, larger transactions at high rates.
      if (lane.size > 0 && lane.size < this.opts.batchSize && this.opts.flushMs > 0 && !this.stopping) {
        await lane.waitForItems(this.opts.flushMs);
      }
      if (lane.size > 0) {
        lane.writing = true;
        try {
          this.metrics.queueDepth.set(this.size); // what waited for a writer, this batch included
          const batch = lane.take();
          for (const w of this.spaceWaiters.splice(0)) w();
          await this.writeBatch(batch);
        } finally {
          lane.writing = false;
        }
      }
      if (flushesRejects && this.rejectSamples.length && Date.now() - lastRejectFlush > 1000) {
        lastRejectFlush = Date.now();
        await this.flushRejects();
      }
    }
  }

  /**
   * Writes a batch; retries transient failures, splits batches that hold bad data. `suspect`: a
   * batch split from one that failed with no SQLSTATE while the database answered.
   */
  private async writeBatch(batch: Item[], suspect = false): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const started = process.hrtime.bigint();
      try {
        const res = await this.writer.write(batch.map((i) => i.envelope));
        this.onCommitted(batch, res, Number(process.hrtime.bigint() - started) / 1e9);
        return;
      } catch (err) {
        const ownFault = await this.failsOnItsOwn(err, attempt, suspect);
        if (isTransientDbError(err) && !ownFault) {
          this.metrics.writeErrors.inc({ kind: 'transient' });
          if (this.stopping && attempt >= 3) {
            this.log.error({ err: String(err), events: batch.length }, 'giving up on a batch while stopping; unacknowledged events will be redelivered by sources that can');
            return;
          }
          const delay = Math.min(5000, 100 * 2 ** attempt);
          this.log.warn({ err: String(err), attempt, delayMs: delay }, 'batch write failed, retrying');
          await new Promise((r) => setTimeout(r, delay));
          continue;
        }
        this.metrics.writeErrors.inc({ kind: 'data' });
        if (batch.length === 1) {
          const item = batch[0]!;
          const code = sqlState(err);
          if (code === null) this.codeLessRejectsInARow++;
          this.reject(item.source, `db_${code ?? 'unknown'}`, { ...item.envelope, sealedPayload: undefined }); // sealed bytes are no sample
          item.done?.();
          return;
        }
        if (ownFault && !suspect) this.log.error({ err: String(err), events: batch.length }, 'a batch keeps failing with no database error while the database answers: splitting it to set aside what fails');
        const mid = Math.ceil(batch.length / 2);
        await this.writeBatch(batch.slice(0, mid), ownFault || suspect);
        await this.writeBatch(batch.slice(mid), ownFault || suspect);
        return;
      }
    }
  }

  /**
   * Whether a failure with no SQLSTATE is the batch's own: one that lasts while the database
   * answers (a JavaScript error building the batch's statements, a COPY text past what a string
   * can hold). Without this a network error and a bug look alike, and the lane would retry the
   * batch forever.
   */
  private async failsOnItsOwn(err: unknown, attempt: number, suspect: boolean): Promise<boolean> {
    const firstCheck = suspect ? 1 : 3;
    if (sqlState(err) !== null || attempt < firstCheck) return false;
    // Every event failing alike is a fault of z4j's own, not of the events: set aside, each
    // would be lost. Past a few in a row the lane stops and retries, loudly, losing nothing
    // (durable sources keep what is not acknowledged) until the fault is fixed.
    if (this.codeLessRejectsInARow >= MAX_CODELESS_REJECTS_IN_A_ROW) {
      if (attempt === firstCheck || attempt % 20 === 0) this.log.error({ err: String(err) }, 'every event fails to be written with no database error: holding ingest until this is fixed');
      return false;
    }
    try {
      await this.db.query('SELECT 1');
      return true;
    } catch {
      return false; // the database is away: the failure is that, retried
    }
  }

  private onCommitted(batch: Item[], res: Awaited<ReturnType<BatchWriter['write']>>, seconds: number): void {
    const now = Date.now();
    this.codeLessRejectsInARow = 0;
    this.totals.batches++;
    this.totals.persisted += res.persisted.length;
    this.totals.duplicates += res.duplicates;
    this.metrics.batchSize.observe(batch.length);
    this.metrics.batchSeconds.observe(seconds);
    this.metrics.eventsDuplicate.inc(res.duplicates);
    const perEngine = new Map<string, number>();
    for (const ev of res.persisted) {
      perEngine.set(ev.engine, (perEngine.get(ev.engine) ?? 0) + 1);
      this.metrics.lagSeconds.observe(Math.max(0, now - ev.occurredAt) / 1000);
    }
    for (const [engine, n] of perEngine) this.metrics.eventsPersisted.inc({ engine }, n);
    for (const ev of res.workerEvents) this.metrics.workerEvents.inc({ engine: ev.engine });
    for (const ev of res.unknownProject) this.reject('pipeline', 'unknown_project', { project: ev.project, id: ev.id });
    for (const item of batch) item.done?.();
  }

  private async flushRejects(): Promise<void> {
    if (!this.rejectSamples.length) return;
    const rows = this.rejectSamples.splice(0);
    // Once per sample (sampleKey): every replica reads a Celery Redis source's events, and each
    // refuses the same ones.
    await this.db
      .query(
        `INSERT INTO ingest_rejects (source, reason, sample, sample_key)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (sample_key) DO NOTHING`,
        [rows.map((r) => r.source), rows.map((r) => r.reason), rows.map((r) => r.sample), rows.map(sampleKey)],
      )
      .catch((err) => this.log.warn({ err: String(err) }, 'could not record rejected events'));
  }
}

/** What tells a refused input's sample from another: its source, reason and text, hashed. */
function sampleKey(r: { source: string; reason: string; sample: string }): string {
  return createHash('sha256').update(`${r.source}\0${r.reason}\0${r.sample}`).digest('base64url');
}

/** The writer lane of a task (FNV-1a of its id): the same lane for all its events. */
export function laneIndex(taskId: string, lanes: number): number {
  let h = 2166136261;
  for (let i = 0; i < taskId.length; i++) h = Math.imul(h ^ taskId.charCodeAt(i), 16777619);
  return (h >>> 0) % lanes;
}
