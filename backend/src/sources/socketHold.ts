// Holding a lossy source back instead of dropping. A Redis pub/sub subscriber cannot be paced
// like a queue consumer, but it can stop reading its socket: Redis then keeps the next
// messages in the client's output buffer (and the kernel in its socket buffers) until we read
// again. While the pipeline's queue is nearly full, the socket is paused, so a stall of the
// writer (a checkpoint, a vacuum, a slow disk) of a second or two costs nothing instead of
// every event that arrives meanwhile.
//
// The hold is bounded in bytes: Redis cuts off a pub/sub client whose output buffer passes
// `client-output-buffer-limit pubsub` (32 MB hard, by default), and everything in that buffer is
// then lost without a count. The bytes a hold leaves in Redis are estimated from the rate the
// source read at before it; the hold ends at the byte bound, and after a hold that did not see
// the queue drain the source drops (counted) until it does.
import type { IngestPipeline } from '../ingest/pipeline.js';

/** Pause at this share of the queue's capacity, read again below the lower one. */
const HOLD_AT = 0.9;
const READ_AGAIN_BELOW = 0.7;
/** Never longer than this, whatever the byte bound: Redis's soft pub/sub limit is 8 MB for 60 s. */
const MAX_HOLD_MS = 10_000;

export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

export interface HoldReport {
  seconds: number;
  /** False when the bound passed before the queue drained: the source drops until it does. */
  drained: boolean;
}

export class SocketHold {
  private windowStart = Date.now();
  private windowBytes = 0;
  private bytesPerSecond = 0;
  private holding = false;
  /** A hold ran out before the queue drained: no new one until it has. */
  private spent = false;

  constructor(
    private readonly pipeline: IngestPipeline,
    /** Most bytes a hold may leave waiting in the sender; 0 never holds. */
    private readonly maxBytes: number,
    private readonly onHeld: (report: HoldReport) => void,
  ) {}

  get isHolding(): boolean {
    return this.holding;
  }

  /** Counts a message read from `socket`, and holds the socket back if the queue is nearly full. */
  received(bytes: number, socket: Pausable | undefined): void {
    this.windowBytes += bytes;
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.bytesPerSecond = (this.windowBytes * 1000) / (now - this.windowStart);
      this.windowStart = now;
      this.windowBytes = 0;
    }
    if (this.holding || this.maxBytes <= 0 || !socket) return;
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
    // At least what came in during the current second, so a sudden burst is not under-estimated.
    const rate = Math.max(this.bytesPerSecond, this.windowBytes, 1);
    let drained = false;
    try {
      drained = await this.pipeline.waitBelow(READ_AGAIN_BELOW, Math.min(MAX_HOLD_MS, (1000 * this.maxBytes) / rate));
    } finally {
      socket.resume();
      this.holding = false;
      this.spent = !drained;
      this.onHeld({ seconds: (Date.now() - started) / 1000, drained });
    }
  }
}
