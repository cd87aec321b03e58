// Shedding load when a lossy source reads slower than its sender sends. A Redis pub/sub
// subscriber that falls behind (it decodes slower than events arrive, with room in the queue,
// so no hold applies) leaves the rest in Redis's output buffer for it, which grows by the
// deficit until Redis cuts the subscriber off at its limit (by default 32 MB at once, or 8 MB
// for 60 s): ≈ 110,000 Celery events gone at once, uncounted (BENCHMARKS.md, sessions 10–11).
// So while the source is behind, what Redis holds for it is watched, and shortly before a limit
// would cut it off the source drops what it reads, counted and undecoded (about a tenth of
// decoding), until Redis holds less than half the soft limit. A burst that Redis can absorb is
// still read in full; only what would have been lost is dropped, and every drop is counted.

/**
 * How often the sender's backlog is read while the source is behind: at most every CHECK_MS,
 * sooner as it grows toward the shedding point (a burst fills megabytes in a few ms), never
 * more often than every MIN_CHECK_MS (CLIENT LIST walks every client of the Redis).
 */
const CHECK_MS = 100;
const MIN_CHECK_MS = 5;
/** Shed at this share of the hard limit: a check comes only every CHECK_MS. */
const HARD_SHARE = 0.75;

/** Redis's `client-output-buffer-limit` for pub/sub clients; 0 for a limit that is off. */
export interface OutputLimits {
  hardBytes: number;
  softBytes: number;
  softSeconds: number;
}

/** Redis's defaults, assumed where CONFIG GET is refused (e.g. managed Redis). */
export const REDIS_DEFAULT_PUBSUB_LIMITS: OutputLimits = { hardBytes: 32 * 1024 * 1024, softBytes: 8 * 1024 * 1024, softSeconds: 60 };

/** The pub/sub limits from `CONFIG GET client-output-buffer-limit`'s value ("normal 0 0 0 … pubsub 33554432 8388608 60"). */
export function parsePubsubLimits(value: string): OutputLimits | null {
  const m = / pubsub (\d+) (\d+) (\d+)/.exec(` ${value}`);
  return m ? { hardBytes: Number(m[1]), softBytes: Number(m[2]), softSeconds: Number(m[3]) } : null;
}

export interface BacklogShedOptions {
  limits: () => OutputLimits;
  /** Bytes the sender holds for us now; null when it cannot tell (then nothing is shed). */
  backlogBytes: () => Promise<number | null>;
  /** Whether the source is behind now (it has read messages it has not decoded yet). */
  isBehind: () => boolean;
  /** Told when shedding starts or stops, with the backlog that decided it. */
  onChange?: (shedding: boolean, backlogBytes: number) => void;
  checkMs?: number;
  now?: () => number;
}

export class BacklogShed {
  private dropping = false;
  private watching: Promise<void> | null = null;
  private stopped = false;
  /** Since when the backlog has stayed above the soft limit (null: it has not, or nobody looked). */
  private aboveSoftSince: number | null = null;
  private lastLook = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: BacklogShedOptions) {}

  /** Whether what the source reads now is dropped (counted) instead of decoded. */
  get shedding(): boolean {
    return this.dropping;
  }

  /** The source has fallen behind: watch the sender's backlog until it has caught up. */
  behind(): void {
    if (!this.watching && !this.stopped) {
      this.watching = this.watch().finally(() => {
        this.watching = null;
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.dropping = false;
  }

  private async watch(): Promise<void> {
    const checkMs = this.opts.checkMs ?? CHECK_MS;
    let last: { at: number; bytes: number } | null = null;
    while (!this.stopped && (this.dropping || this.opts.isBehind())) {
      const backlog = await this.opts.backlogBytes().catch(() => null);
      if (this.stopped) break;
      if (backlog === null) {
        if (this.dropping) this.set(false, 0); // blind: never drop without knowing why
      } else if (!this.dropping && this.nearLimit(backlog)) {
        this.set(true, backlog);
      } else if (this.dropping && backlog < this.resumeBelow) {
        this.set(false, backlog);
      }
      const at = performance.now();
      const wait = backlog === null || this.dropping ? checkMs : this.untilNextCheck(backlog, last, at, checkMs);
      last = backlog === null ? null : { at, bytes: backlog };
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Half the time the backlog would take to reach the hard limit's shedding point at its present growth. */
  private untilNextCheck(backlog: number, last: { at: number; bytes: number } | null, at: number, checkMs: number): number {
    const { hardBytes } = this.opts.limits();
    if (hardBytes <= 0) return checkMs;
    if (!last || at <= last.at) return Math.min(checkMs, MIN_CHECK_MS * 2); // no growth known yet: look again soon
    const growth = (backlog - last.bytes) / (at - last.at); // bytes per ms
    if (growth <= 0) return checkMs;
    const left = (hardBytes * HARD_SHARE - backlog) / growth;
    return Math.max(Math.min(MIN_CHECK_MS, checkMs), Math.min(checkMs, left / 2));
  }

  /** Whether Redis is about to cut the subscriber off: near the hard limit, or long over the soft one. */
  private nearLimit(backlog: number): boolean {
    const { hardBytes, softBytes, softSeconds } = this.opts.limits();
    if (hardBytes > 0 && backlog >= hardBytes * HARD_SHARE) return true;
    if (softBytes <= 0 || softSeconds <= 0 || backlog < softBytes) {
      this.aboveSoftSince = null;
      return false;
    }
    const now = (this.opts.now ?? Date.now)();
    // Not looked at for a while (the source kept up meanwhile): the backlog may have dipped under
    // the soft limit, which starts Redis's clock over, so ours starts over too.
    if (now - this.lastLook > 1000) this.aboveSoftSince = null;
    this.lastLook = now;
    this.aboveSoftSince ??= now;
    return now - this.aboveSoftSince >= (softSeconds * 1000) / 2;
  }

  /** Below half the soft limit (or a quarter of the hard one): Redis's soft timer starts over. */
  private get resumeBelow(): number {
    const { hardBytes, softBytes } = this.opts.limits();
    return softBytes > 0 ? softBytes / 2 : hardBytes / 4;
  }

  private set(dropping: boolean, backlog: number): void {
    this.dropping = dropping;
    if (!dropping) this.aboveSoftSince = null;
    this.opts.onChange?.(dropping, backlog);
  }
}
