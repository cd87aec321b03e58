// Group commit: many callers each need "my row is durably written before I go on" (e.g. before a
// broker message is acknowledged), and one statement per caller means one commit — one WAL flush —
// each. Here a caller adds its item and waits; items are written by one `write` call at a time,
// and everything added while a write runs goes into the next one. Alone, an item is written at
// once (no timer, no added latency); under load, one commit serves many callers. A write may
// answer each item (what its insert found, say): each caller gets its own answer.

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T, R = void> {
  private waiting: Waiting<T, R>[] = [];
  private writing = false;

  /**
   * `write` stores all the items in one transaction, or throws (then every one of them fails).
   * It returns each item's answer, in the items' order, or nothing when there is none.
   */
  constructor(
    private readonly write: (items: T[]) => Promise<R[] | void>,
    private readonly maxItems = 1000,
  ) {}

  /** Resolves, with the write's answer for `item`, once a write holding it has committed; rejects if that write failed. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.waiting.length) {
        const group = this.waiting.splice(0, this.maxItems);
        try {
          const results = await this.write(group.map((w) => w.item));
          group.forEach((w, i) => w.resolve(results?.[i] as R));
        } catch (err) {
          for (const w of group) w.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
