export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` passes or the deadline expires (then throws its last error). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(everyMs);
    }
  }
}
