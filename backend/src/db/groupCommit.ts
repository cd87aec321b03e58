// Group commit: many callers each need "my row is durably written before I go on" (e.g. before a
// broker message is acknowledged), and one statement per caller means one commit — one WAL flush —
// each. Here a caller adds its item and waits; items are written by one `write` call at a time,
// and everything added while a write runs goes into the next one. Alone, an item is written at
// once (no timer, no added latency); under load, one commit serves many callers.

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  private waiting: Waiting<T>[] = [];
  private writing = false;

  /** `write` stores all the items in one transaction, or throws (then every one of them fails). */
  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxItems = 1000,
  ) {}

  /** Resolves once a write holding `item` has committed; rejects if that write failed. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
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
          await this.write(group.map((w) => w.item));
          for (const w of group) w.resolve();
        } catch (err) {
          for (const w of group) w.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
