import { BacklogShed, parsePubsubLimits, type OutputLimits } from './backlogShed.js';

const tick = () => new Promise((r) => setTimeout(r, 5));
const running: BacklogShed[] = [];
afterEach(() => {
  for (const shed of running.splice(0)) shed.stop(); // a failed expectation must not leave a watcher looping
});
const LIMITS: OutputLimits = { hardBytes: 32_000, softBytes: 8000, softSeconds: 60 };

/** A source whose sender's backlog, "behind" state and clock the test sets; records the guard's changes. */
function scene(limits = LIMITS) {
  const s = { backlog: 0 as number | null, behind: false, now: 0, changes: [] as [boolean, number][], reads: 0 };
  const shed = new BacklogShed({
    limits: () => limits,
    backlogBytes: async () => {
      s.reads++;
      return s.backlog;
    },
    isBehind: () => s.behind,
    onChange: (shedding, backlog) => s.changes.push([shedding, backlog]),
    checkMs: 1,
    now: () => s.now,
  });
  running.push(shed);
  return { s, shed };
}

describe('shedding while a source is behind its sender', () => {
  it('reads a burst Redis can hold in full; drops near the hard limit until under half the soft one', async () => {
    const { s, shed } = scene();
    s.behind = true;
    s.backlog = 20_000; // well past the soft limit, short of ¾ of the hard one: a burst, keep decoding
    shed.behind();
    await tick();
    expect(shed.shedding).toBe(false);
    s.backlog = 24_000;
    await tick();
    expect(shed.shedding).toBe(true);
    s.behind = false; // dropping undecoded catches up at once...
    s.backlog = 6000;
    await tick();
    expect(shed.shedding).toBe(true); // ...and goes on while Redis still holds more than half the soft limit
    s.backlog = 3000;
    await tick();
    expect(shed.shedding).toBe(false);
    expect(s.changes).toEqual([[true, 24_000], [false, 3000]]);
    const reads = s.reads;
    await tick();
    expect(s.reads).toBe(reads); // caught up: no more looking
    shed.stop();
  });

  it('drops once the backlog has stayed over the soft limit for half its seconds', async () => {
    const { s, shed } = scene();
    /** The clock moved on by `ms`, looked at every half second. */
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 500) {
        s.now += 500;
        await tick();
      }
    };
    s.behind = true;
    s.backlog = 9000;
    shed.behind();
    await pass(29_000);
    expect(shed.shedding).toBe(false);
    s.backlog = 7000; // under it for a moment: the soft limit's clock starts over
    await pass(500);
    s.backlog = 9000;
    await pass(29_000);
    expect(shed.shedding).toBe(false);
    await pass(1500);
    expect(shed.shedding).toBe(true);
  });

  it('starts the soft limit clock over when nobody looked for a while', async () => {
    const { s, shed } = scene();
    s.behind = true;
    s.backlog = 9000;
    shed.behind();
    await tick();
    s.behind = false; // caught up: the watcher stops looking
    await tick();
    await tick();
    s.now += 45_000; // meanwhile the backlog may have dipped under the soft limit
    s.behind = true;
    shed.behind();
    await tick();
    expect(shed.shedding).toBe(false);
  });

  it('never drops while it cannot see the backlog, nor when Redis has no limits', async () => {
    const { s, shed } = scene();
    s.behind = true;
    s.backlog = 30_000;
    shed.behind();
    await tick();
    expect(shed.shedding).toBe(true);
    s.backlog = null; // e.g. CLIENT LIST refused from now on
    await tick();
    expect(shed.shedding).toBe(false);
    shed.stop();

    const unlimited = scene({ hardBytes: 0, softBytes: 0, softSeconds: 0 });
    unlimited.s.behind = true;
    unlimited.s.backlog = 1e9;
    unlimited.shed.behind();
    await tick();
    expect(unlimited.shed.shedding).toBe(false);
    unlimited.shed.stop();
  });

  it('looks while the source is behind, and never after stop', async () => {
    const { s, shed } = scene();
    s.behind = true;
    shed.behind();
    shed.behind();
    await tick();
    expect(s.reads).toBeGreaterThan(0);
    shed.stop();
    await tick();
    const after = s.reads;
    await tick();
    shed.behind();
    await tick();
    expect(s.reads).toBe(after);
  });
});

describe('Redis pub/sub output limits', () => {
  it('are read from CONFIG GET client-output-buffer-limit', () => {
    expect(parsePubsubLimits('normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60')).toEqual({ hardBytes: 33_554_432, softBytes: 8_388_608, softSeconds: 60 });
    expect(parsePubsubLimits('pubsub 0 0 0')).toEqual({ hardBytes: 0, softBytes: 0, softSeconds: 0 });
    expect(parsePubsubLimits('')).toBeNull();
  });
});
