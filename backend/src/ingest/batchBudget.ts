// How many agent batches a broker source holds at once (read, not yet acknowledged), counted in
// bytes. Each is acknowledged only once its events are committed, so the source should hold
// about as many events as the pipeline writes and queues at once: with fewer, the writers idle
// between batches while the backlog waits in the broker; with more, parsed batches wait in the
// heap for room in the queue. A bound in batches fits one batch size only — agents flush on a
// timer, so a fleet of busy workers sends many small batches (the bench's: ≈ 300 events), and
// 32 of them left the pipeline half fed. Bytes are known before a batch is parsed, and what it
// holds per event is learned from the batches seen.

/** Bytes per event before any batch was seen: an enqueued event with its payload is ≈ 700. */
const INITIAL_BYTES_PER_EVENT = 700;
/** However large the pipeline, raw batches in hand stay below this. */
export const MAX_BUDGET_BYTES = 64 * 1024 * 1024;
/** Batches seen before the mean becomes a moving one (weights the newest 1 / this much). */
const LEARNING_BATCHES = 20;

interface Waiter {
  bytes: number;
  resolve: () => void;
}

export class BatchBudget {
  private held = 0;
  private seen = 0;
  private bytesPerEvent = INITIAL_BYTES_PER_EVENT;
  private readonly waiting: Waiter[] = [];

  /** `events`: how many events the pipeline writes and queues at once (IngestPipeline.inFlightCapacity). */
  constructor(private readonly events: () => number) {}

  /** The bytes of batches that hold as many events as the pipeline takes, at the size seen. */
  get limit(): number {
    return Math.min(MAX_BUDGET_BYTES, Math.ceil(this.events() * this.bytesPerEvent));
  }

  get bytesHeld(): number {
    return this.held;
  }

  /**
   * Resolves once a batch of `bytes` fits (in arrival order); then it is held until `release`.
   * A batch larger than the whole budget goes when nothing else is held.
   */
  take(bytes: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push({ bytes, resolve });
      this.admit();
    });
  }

  /** `take` without waiting: false (and nothing held) when the batch does not fit now. */
  tryTake(bytes: number): boolean {
    if (this.waiting.length || (this.held > 0 && this.held + bytes > this.limit)) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
    this.admit();
  }

  /** A parsed batch's size and event count: what the budget's bytes per event follows. */
  learn(bytes: number, events: number): void {
    if (events <= 0 || bytes <= 0) return;
    this.seen++;
    const weight = 1 / Math.min(this.seen, LEARNING_BATCHES);
    this.bytesPerEvent += (bytes / events - this.bytesPerEvent) * weight;
  }

  private admit(): void {
    while (this.waiting.length && (this.held === 0 || this.held + this.waiting[0]!.bytes <= this.limit)) {
      const next = this.waiting.shift()!;
      this.held += next.bytes;
      next.resolve();
    }
  }
}
