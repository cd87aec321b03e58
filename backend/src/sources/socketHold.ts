// Holding a lossy source back instead of dropping. A Redis pub/sub subscriber cannot be paced
// like a queue consumer, but it can stop reading its socket: Redis then keeps the next
// messages in the client's output buffer (and the kernel in its socket buffers) until we read
// again. While the pipeline's queue is nearly full, the socket is paused, so a stall of the
// writer (a checkpoint, a vacuum, a slow disk) of a second or so costs nothing instead of
// every event that arrives meanwhile.
//
// The hold is bounded by what the sender reports it holds for us: Redis cuts off a pub/sub
// client whose output buffer passes `client-output-buffer-limit pubsub` (32 MB at once, or 8 MB
// for 60 s, by default), and everything in that buffer is then lost without a count. So the
// backlog is read while holding, and the hold ends at the bound; after a hold that did not see
// the queue drain, the source reads and drops (counted) until it has drained, which also
// empties what the sender kept.
import type { IngestPipeline } from '../ingest/pipeline.js';

/** Pause at this share of the queue's capacity, read again below the lower one. */
const HOLD_AT = 0.9;
const READ_AGAIN_BELOW = 0.7;
/** How often the sender's backlog is read while holding. */
const CHECK_MS = 100;
/** Never longer than this, whatever the backlog. */
const MAX_HOLD_MS = 10_000;

export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

export interface HoldReport {
  seconds: number;
  /** False when a bound passed before the queue drained: the source drops until it does. */
  drained: boolean;
}

export interface HoldOptions {
  /** Most bytes a hold may leave waiting in the sender; 0 never holds. */
  maxBytes: number;
  /** Bytes the sender holds for us now; null when it cannot tell (then the hold ends). */
  backlogBytes: () => Promise<number | null>;
  onHeld: (report: HoldReport) => void;
}

export class SocketHold {
  private holding = false;
  /** A hold ended before the queue drained: no new one until it has. */
  private spent = false;

  constructor(
    private readonly pipeline: IngestPipeline,
    private readonly opts: HoldOptions,
  ) {}

  get isHolding(): boolean {
    return this.holding;
  }

  /** Called after each message read from `socket`: holds the socket back if the queue is nearly full. */
  received(socket: Pausable | undefined): void {
    if (this.holding || this.opts.maxBytes <= 0 || !socket) return;
    if (this.spent) {
      if (this.pipeline.below(READ_AGAIN_BELOW)) this.spent = false;
      return;
    }
    if (!this.pipeline.below(HOLD_AT)) void this.hold(socket);
  }

  private async hold(socket: Pausable): Promise<void> {
    this.holding = true;
    socket.pause();
    const started = Date.now();
    let drained = false;
    try {
      for (;;) {
        if (await this.pipeline.waitBelow(READ_AGAIN_BELOW, CHECK_MS)) {
          drained = true;
          break;
        }
        const backlog = await this.opts.backlogBytes().catch(() => null);
        if (backlog === null || backlog >= this.opts.maxBytes || Date.now() - started >= MAX_HOLD_MS) break;
      }
    } finally {
      socket.resume();
      this.holding = false;
      this.spent = !drained;
      this.opts.onHeld({ seconds: (Date.now() - started) / 1000, drained });
    }
  }
}
