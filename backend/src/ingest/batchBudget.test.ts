import { BatchBudget, MAX_BUDGET_BYTES } from './batchBudget.js';

/** Whether the promise settled by the time queued microtasks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('the bytes of agent batches a broker source holds', () => {
  it('holds as many events as the pipeline takes, at the size per event its batches showed', () => {
    const budget = new BatchBudget(() => 16_000);
    expect(budget.limit).toBe(16_000 * 700); // before any batch: 700 bytes per event
    for (let i = 0; i < 50; i++) budget.learn(300 * 400, 300); // 400 bytes per event
    expect(budget.limit).toBeGreaterThan(16_000 * 399);
    expect(budget.limit).toBeLessThan(16_000 * 401);
    budget.learn(0, 0); // nothing to learn from an empty batch
    expect(budget.limit).toBeLessThan(16_000 * 401);
    expect(new BatchBudget(() => 1_000_000).limit).toBe(MAX_BUDGET_BYTES);
  });

  it('lets a batch in while it fits, the next ones in arrival order as batches are released', async () => {
    const budget = new BatchBudget(() => 10); // 7,000 bytes
    await budget.take(3000);
    await budget.take(3000);
    const third = budget.take(3000);
    const fourth = budget.take(500); // would fit, but waits its turn behind the third
    expect(await settled(third)).toBe(false);
    expect(await settled(fourth)).toBe(false);
    budget.release(3000);
    expect(await settled(third)).toBe(true);
    expect(await settled(fourth)).toBe(true);
    expect(budget.bytesHeld).toBe(6500);
  });

  it('lets a batch larger than the whole budget in alone', async () => {
    const budget = new BatchBudget(() => 1); // 700 bytes
    await budget.take(100);
    const big = budget.take(1_000_000);
    expect(await settled(big)).toBe(false);
    budget.release(100);
    expect(await settled(big)).toBe(true);
    const next = budget.take(100);
    expect(await settled(next)).toBe(false);
    budget.release(1_000_000);
    expect(await settled(next)).toBe(true);
  });

  it('answers at once, for HTTP: a batch that does not fit now, or would pass one waiting, is not taken', async () => {
    const budget = new BatchBudget(() => 10); // 7,000 bytes
    expect(budget.tryTake(1_000_000)).toBe(true); // alone, even a large one
    expect(budget.tryTake(10)).toBe(false);
    budget.release(1_000_000);
    expect(budget.tryTake(6000)).toBe(true);
    expect(budget.tryTake(2000)).toBe(false);
    const waiting = budget.take(2000);
    expect(budget.tryTake(500)).toBe(false); // fits, but the waiting batch goes first
    budget.release(6000);
    expect(await settled(waiting)).toBe(true);
    expect(budget.bytesHeld).toBe(2000);
  });
});
