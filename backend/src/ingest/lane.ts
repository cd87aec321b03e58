// One writer lane of the pipeline: a FIFO the writer drains in batches, with a signal for
// "items arrived" so an idle writer sleeps instead of polling.

export class Lane<T> {
  private items: T[] = [];
  private head = 0;
  private arrived: (() => void) | null = null;
  /** True while this lane's writer has a batch in flight. */
  writing = false;

  constructor(private readonly batchSize: number, private readonly flushMs: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
    // Wake an idle writer on the first item, a filling one when a batch is full.
    if (this.arrived && (this.size === 1 || this.size >= this.batchSize || this.flushMs === 0)) this.arrived();
  }

  take(): T[] {
    const batch = this.items.slice(this.head, this.head + this.batchSize);
    this.head += batch.length;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Resolves when items arrive (or a batch fills), or after `timeoutMs`. */
  waitForItems(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), timeoutMs);
      this.arrived = () => {
        clearTimeout(timer);
        this.arrived = null;
        resolve();
      };
    });
  }

  wake(): void {
    this.arrived?.();
  }
}
