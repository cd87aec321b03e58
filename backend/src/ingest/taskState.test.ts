import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TaskEnvelope, TaskKind } from './envelope.js';
import { applyEvent, foldEvents, needsRefold, type TaskRow } from './taskState.js';

let seq = 0;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
function ev(kind: TaskKind, atMs: number, fields: TaskEnvelope['fields'] = {}, worker = 'w1@host'): TaskEnvelope {
  return { v: 1, type: 'task', id: `e${++seq}`, engine: 'celery', project: 'default', kind, taskId: 't1', occurredAt: T0 + atMs, worker, fields };
}

const permutations = <T>(xs: T[]): T[][] =>
  xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));

/** What the writer does: incremental while events come in order, a refold from the timeline when not. */
function applyInArrivalOrder(events: TaskEnvelope[]): TaskRow {
  let t: TaskRow | null = null;
  const timeline: TaskEnvelope[] = [];
  for (const e of events) {
    timeline.push(e);
    t = needsRefold(t, [e]) ? foldEvents(null, timeline) : applyEvent(t, e);
  }
  return t!;
}

describe('task state precedence', () => {
  const lifecycle = [
    ev('enqueued', 0, { name: 'app.add', queue: 'celery', args: '(1, 2)', retries: 0 }, 'producer@host'),
    ev('received', 10, { retries: 0 }),
    ev('started', 30),
    ev('succeeded', 130, { result: '3', runtime: 0.1 }),
  ];

  it('ends succeeded with derived times whatever order the events arrive in', () => {
    for (const order of permutations(lifecycle)) {
      const t = applyInArrivalOrder(order);
      expect(t.state).toBe('succeeded');
      expect(t.sentAt).toBe(T0);
      expect(t.receivedAt).toBe(T0 + 10);
      expect(t.startedAt).toBe(T0 + 30);
      expect(t.finishedAt).toBe(T0 + 130);
      expect(t.runtimeMs).toBeCloseTo(100);
      expect(t.waitMs).toBe(30);
      expect(t.worker).toBe('w1@host');
      expect(t.name).toBe('app.add');
      expect(t.result).toBe('3');
    }
  });

  it('runs on after a rejection that requeued the message, in whatever order; a plain rejection stays final', () => {
    const requeued = [
      ev('enqueued', 0, { name: 'app.add', retries: 0 }, 'producer@host'),
      ev('received', 10, { retries: 0 }, 'w1@host'),
      ev('started', 20, {}, 'w1@host'),
      ev('rejected', 30, { requeue: true }, 'w1@host'),
      ev('received', 40, { retries: 0 }, 'w2@host'),
      ev('started', 50, {}, 'w2@host'),
      ev('succeeded', 90, { result: "'ok after 2'", runtime: 0.04 }, 'w2@host'),
    ];
    for (const order of [requeued, [...requeued].reverse(), [requeued[3]!, ...requeued.slice(0, 3), ...requeued.slice(4)]]) {
      const t = applyInArrivalOrder(order);
      expect([t.state, t.worker, t.result, t.finishedAt]).toEqual(['succeeded', 'w2@host', "'ok after 2'", T0 + 90]);
    }
    const waiting = applyInArrivalOrder(requeued.slice(0, 4));
    expect([waiting.state, waiting.finishedAt]).toEqual(['started', null]);
    const plain = applyInArrivalOrder([...requeued.slice(0, 3), ev('rejected', 30, {}, 'w1@host')]);
    expect([plain.state, plain.finishedAt]).toEqual(['rejected', T0 + 30]);
  });

  it('ends failed, not rejected, when a failure is dead-lettered in the same moment, whatever order the two are stored in', () => {
    // Dramatiq reports a message out of retries as failed and, in the same instant, as rejected
    // to its dead-letter queue: the two may travel in different batches, stored in either order.
    for (const gap of [0, 1]) {
      const deadLettered = [
        ev('enqueued', 0, { name: 'app.flaky', retries: 0 }, 'producer@host'),
        ev('started', 10, { retries: 0 }),
        ev('failed', 50, { retries: 0, exception: 'RuntimeError: boom', runtime: 0.04 }),
        ev('rejected', 50 + gap, { retries: 0, deadLettered: true }),
      ];
      for (const order of permutations(deadLettered)) {
        const t = applyInArrivalOrder(order);
        expect([gap, t.state, t.exception, t.finishedAt]).toEqual([gap, 'failed', 'RuntimeError: boom', T0 + 50]);
      }
    }
  });

  it('never lets a late started overwrite succeeded', () => {
    const t = applyInArrivalOrder([lifecycle[0]!, lifecycle[1]!, lifecycle[3]!, lifecycle[2]!]);
    expect(t.state).toBe('succeeded');
  });

  it('ignores a duplicated event', () => {
    const once = applyInArrivalOrder(lifecycle);
    const twice = applyInArrivalOrder([...lifecycle, ...lifecycle]);
    expect(twice).toEqual(once);
  });

  it('reopens a task on retry and records the next attempt', () => {
    const events = [
      ev('received', 0, { retries: 0 }),
      ev('started', 5),
      ev('retried', 20, { exception: "ValueError('boom')", traceback: 'Traceback…' }),
      ev('received', 250, { retries: 1 }),
      ev('started', 260),
      ev('succeeded', 300, { result: "'ok'", runtime: 0.04 }),
    ];
    let t: TaskRow | null = null;
    const states: string[] = [];
    for (const e of events) {
      t = applyEvent(t, e);
      states.push(t.state);
    }
    expect(states).toEqual(['received', 'started', 'retried', 'received', 'started', 'succeeded']);
    expect(t!.attempt).toBe(1);
    expect(t!.retries).toBe(1);
    expect(t!.startedAt).toBe(T0 + 260);
    expect(t!.runtimeMs).toBeCloseTo(40);
    expect(t!.exception).toBe("ValueError('boom')");
  });

  it('keeps the final state when the events of a retried task arrive out of order', () => {
    const events = [
      ev('received', 0, { retries: 0 }),
      ev('started', 5),
      ev('retried', 20),
      ev('received', 250, { retries: 1 }),
      ev('started', 260),
      ev('failed', 300, { exception: 'KeyError' }),
    ];
    for (const order of [events, [...events].reverse(), [events[3]!, events[5]!, events[0]!, events[2]!, events[1]!, events[4]!]]) {
      const t = applyInArrivalOrder(order);
      expect(t.state).toBe('failed');
      expect(t.attempt).toBe(1);
      expect(t.finishedAt).toBe(T0 + 300);
    }
  });

  it('reaches the same final state for every arrival order of a retried lifecycle', () => {
    const events = [
      ev('enqueued', 0, { retries: 0 }, 'producer'),
      ev('received', 2, { retries: 0 }),
      ev('started', 5),
      ev('retried', 20, { exception: 'first' }),
      ev('received', 250, { retries: 1 }),
      ev('started', 260),
      ev('succeeded', 300, { result: "'ok'" }),
    ];
    for (const order of permutations(events)) {
      const t = applyInArrivalOrder(order);
      const got = [t.state, t.attempt, t.startedAt, t.finishedAt];
      if (JSON.stringify(got) !== JSON.stringify(["succeeded", 1, T0 + 260, T0 + 300])) throw new Error(order.map((e) => `${e.kind}@${e.occurredAt - T0}`).join(" ") + " => " + JSON.stringify(got.map((x) => (typeof x === "number" && x > T0 - 1 ? x - T0 : x))));
    }
  });

  it('folds a list in place exactly as applying its events one by one, leaving the start row alone', () => {
    const events = [
      ev('enqueued', 0, { name: 'app.x', retries: 0 }, 'producer'),
      ev('received', 2, { retries: 0 }),
      ev('started', 5),
      ev('retried', 20, { exception: 'first' }),
      ev('received', 250, { retries: 1 }),
      ev('started', 260),
    ];
    const start = applyEvent(null, ev('received', 1, { retries: 0 }));
    const before = JSON.stringify(start);
    const byOrder = [...events].sort((a, b) => a.occurredAt - b.occurredAt);
    for (const from of [null, start]) {
      const oneByOne = byOrder.reduce<TaskRow | null>((t, e) => applyEvent(t, e), from);
      expect(foldEvents(from, events.slice().reverse())).toEqual(oneByOne);
    }
    expect(JSON.stringify(start)).toBe(before);
  });

  it('keeps a retried Celery task at its attempt when the retry is published before the start is reported', () => {
    // Recorded with task_send_sent_event on (300 tasks, -c 4): the pool child publishes the retry
    // (task-sent, retries=1) a little before the parent's task-started of the first run.
    const events = [
      ev('enqueued', 0, { retries: 0 }, 'producer'),
      ev('received', 5, { retries: 0 }),
      ev('enqueued', 817, { retries: 1 }, 'w1@host'),
      ev('started', 828),
      ev('retried', 840, { exception: 'RuntimeError(first)' }),
      ev('received', 900, { retries: 1 }),
      ev('started', 910),
      ev('succeeded', 950, { result: "'ok'" }),
    ];
    for (const order of [events, [...events].reverse()]) {
      const t = applyInArrivalOrder(order);
      expect(t).toMatchObject({ state: 'succeeded', attempt: 1, retries: 1, sentAt: T0 + 817, receivedAt: T0 + 900, startedAt: T0 + 910, exception: 'RuntimeError(first)' });
      expect(t.waitMs).toBe(93);
    }
    for (const middle of permutations(events.slice(2, 5))) {
      const t = applyInArrivalOrder([...events.slice(0, 2), ...middle, ...events.slice(5)]);
      expect([t.state, t.attempt, t.retries]).toEqual(['succeeded', 1, 1]);
    }
  });

  it('revokes a Celery task waiting for its retry, whose message the worker refuses without a received', () => {
    const events = [
      ev('enqueued', 0, { retries: 0 }, 'producer'),
      ev('received', 5, { retries: 0 }),
      ev('started', 10),
      ev('enqueued', 20, { retries: 1 }, 'w1@host'),
      ev('retried', 25, { exception: 'RuntimeError(first)' }),
      ev('revoked', 60_000),
    ];
    for (const order of [events, [...events].reverse()]) expect(applyInArrivalOrder(order).state).toBe('revoked');
  });

  it('follows Celery, which publishes the retry before it reports retried', () => {
    // As recorded from a real Celery 5.7 worker: enqueued(1) and received(1) precede retried.
    const events = [
      ev('enqueued', 0, { retries: 0 }, 'producer'),
      ev('received', 5, { retries: 0 }),
      ev('started', 17),
      ev('enqueued', 69, { retries: 1 }, 'w1@host'),
      ev('received', 71, { retries: 1 }),
      ev('retried', 79, { exception: 'RuntimeError(first)' }),
      ev('started', 247),
      ev('succeeded', 249, { result: "'ok'" }),
    ];
    for (const order of [events, [...events].reverse()]) {
      const t = applyInArrivalOrder(order);
      expect(t).toMatchObject({ state: 'succeeded', attempt: 1, retries: 1, exception: 'RuntimeError(first)', startedAt: T0 + 247 });
    }
  });

  it('gives a late retried to the attempt it closes when the next attempt already started (a retry with no countdown)', () => {
    // Recorded from a real Celery 5.7 worker (-P threads -c 4, self.retry(countdown=0)): another
    // thread received and started the retry's message before this one reported task-retried.
    const events = [
      ev('enqueued', 0, { retries: 0 }, 'producer'),
      ev('received', 2, { retries: 0 }),
      ev('started', 5),
      ev('received', 51, { retries: 1 }),
      ev('started', 54),
      ev('retried', 54, { exception: 'RuntimeError(first)' }),
      ev('succeeded', 55, { result: "'ok'" }),
    ];
    for (const order of [events, [...events].reverse(), ...permutations(events.slice(3)).map((tail) => [...events.slice(0, 3), ...tail])]) {
      const t = applyInArrivalOrder(order);
      expect(t).toMatchObject({ state: 'succeeded', attempt: 1, retries: 1, receivedAt: T0 + 51, startedAt: T0 + 54, exception: 'RuntimeError(first)' });
    }
    // While the retry runs, the task shows it running, not waiting.
    expect(applyInArrivalOrder(events.slice(0, 6))).toMatchObject({ state: 'started', attempt: 1 });
  });

  it('keeps the worker that ran the attempt when a late event of it comes from another worker\'s clock', () => {
    // w2's clock runs 200 ms behind w1's: w1's start of the first run sorts after w2's whole retry.
    const t = applyInArrivalOrder([
      ev('received', 1100, { retries: 0 }, 'w1'), ev('received', 1150, { retries: 1 }, 'w2'), ev('started', 1160, {}, 'w2'),
      ev('succeeded', 1170, { runtime: 0.01 }, 'w2'), ev('started', 1200, {}, 'w1'), ev('retried', 1300, { exception: 'E' }, 'w1'),
    ]);
    expect(t).toMatchObject({ state: 'succeeded', attempt: 1, worker: 'w2' });
  });

  it('counts Celery retries one per attempt: a second retry closes the second attempt', () => {
    const t = applyInArrivalOrder([
      ev('received', 0, { retries: 0 }), ev('started', 1), ev('retried', 2),
      ev('received', 10, { retries: 1 }), ev('started', 11), ev('retried', 12),
      ev('received', 20, { retries: 2 }), ev('started', 21), ev('succeeded', 22),
    ]);
    expect(t).toMatchObject({ state: 'succeeded', attempt: 2, retries: 2, startedAt: T0 + 21 });
  });

  it('folds a row stored before retried_count was kept as it did then: a published retry waits for its report', () => {
    const before = [ev('enqueued', 0, { retries: 0 }, 'p'), ev('received', 2, { retries: 0 }), ev('started', 5), ev('enqueued', 50, { retries: 1 }, 'w1@host')];
    let t: TaskRow = { ...foldEvents(null, before), retriedCount: null };
    for (const e of [ev('retried', 52, { exception: 'E' }), ev('received', 10_001, { retries: 1 }), ev('started', 10_002), ev('succeeded', 10_003)]) t = applyEvent(t, e);
    expect([t.state, t.attempt, t.retries]).toEqual(['succeeded', 1, 1]);
  });

  it('gives a task-retried that comes seconds into the running attempt to that attempt: the report before it was lost', () => {
    const lostFirstReport = [
      ev('received', 0, { retries: 0 }), ev('started', 1), // its task-retried was lost
      ev('received', 10, { retries: 1 }), ev('started', 11), ev('retried', 3_011, { exception: 'E1' }),
    ];
    expect(applyInArrivalOrder(lostFirstReport)).toMatchObject({ state: 'retried', attempt: 1, exception: 'E1' });
    const next = [ev('received', 4_000, { retries: 2 }), ev('started', 4_001), ev('retried', 9_000, { exception: 'E2' }), ev('received', 10_000, { retries: 3 }), ev('started', 10_001), ev('succeeded', 10_002)];
    expect(applyInArrivalOrder([...lostFirstReport, ...next.slice(0, 3)])).toMatchObject({ state: 'retried', attempt: 2, exception: 'E2' });
    expect(applyInArrivalOrder([...lostFirstReport, ...next])).toMatchObject({ state: 'succeeded', attempt: 3, retries: 3, startedAt: T0 + 10_001 });
  });

  it('follows a redelivered run to the worker that runs it now (terminate goes there)', () => {
    const first = [ev('enqueued', 0, { retries: 0 }, 'producer'), ev('received', 10, { retries: 0 }, 'w1@host'), ev('started', 20, {}, 'w1@host')];
    const rerun = [ev('received', 5000, { retries: 0 }, 'w2@host'), ev('started', 5010, {}, 'w2@host')];
    expect(applyInArrivalOrder([...first, ...rerun])).toMatchObject({ state: 'started', worker: 'w2@host' });
    expect(applyInArrivalOrder([...first, ev('rejected', 30, { requeue: true }, 'w1@host'), ...rerun])).toMatchObject({ state: 'started', worker: 'w2@host' });
  });

  it('opens the next attempt from events that do not say their attempt, when they follow a retry', () => {
    // Celery's started/succeeded carry no retries count.
    const t = applyInArrivalOrder([ev('received', 0, { retries: 0 }), ev('retried', 10), ev('started', 50), ev('succeeded', 60)]);
    expect(t.state).toBe('succeeded');
    expect(t.attempt).toBe(1);
  });

  it('does not let a stale started of the retried attempt reopen it', () => {
    const t = applyInArrivalOrder([ev('received', 0, { retries: 0 }), ev('retried', 20), ev('started', 5)]);
    expect(t.state).toBe('retried');
    expect(t.attempt).toBe(0);
  });

  it('keeps links and a revoked state over later, lower states', () => {
    const t = foldEvents(null, [
      ev('enqueued', 0, { rootId: 'r', parentId: 'p', retries: 0 }),
      ev('revoked', 5, { terminated: false } as never),
      ev('received', 3, { retries: 0 }),
    ]);
    expect(t.state).toBe('revoked');
    expect(t.rootId).toBe('r');
    expect(t.parentId).toBe('p');
  });
});

describe('expiry marks (a waiting task past its expiry, marked by z4j)', () => {
  const EXPIRES = 60_000;
  const iso = (atMs: number) => new Date(T0 + atMs).toISOString();
  const mark = (attempt = 0): TaskEnvelope => ({ ...ev('expired', EXPIRES, { retries: attempt, expires: iso(EXPIRES), markedBy: 'z4j', reason: 'its expiry passed while it waited' }), worker: undefined });
  const enqueued = ev('enqueued', 0, { name: 'app.add', retries: 0, expires: iso(EXPIRES) }, 'producer@host');

  it('keeps the expiry of the attempt the task is in: a new attempt starts without one', () => {
    expect(foldEvents(null, [enqueued]).expiresAt).toBe(T0 + EXPIRES);
    expect(foldEvents(null, [enqueued, ev('received', 10, { retries: 0 }), ev('retried', 20), ev('enqueued', 30, { retries: 1 })]).expiresAt).toBeNull();
    expect(foldEvents(null, [ev('enqueued', 0, { expires: 'not a time' })]).expiresAt).toBeNull();
  });

  it('marks a task still waiting, in its queue or received and not started', () => {
    expect(foldEvents(null, [enqueued, mark()])).toMatchObject({ state: 'expired', stateAt: T0 + EXPIRES, finishedAt: T0 + EXPIRES, lastEventAt: T0 + EXPIRES });
    expect(applyEvent(foldEvents(null, [enqueued, ev('received', 10, { retries: 0 })]), mark())).toMatchObject({ state: 'expired', worker: 'w1@host' });
  });

  it('is no sighting: a task first seen after its expiry (a sender whose clock is behind) keeps when it was first seen', () => {
    const seenLate = ev('enqueued', EXPIRES + 60_000, { name: 'app.add', retries: 0, expires: iso(EXPIRES) });
    expect(foldEvents(null, [seenLate, mark()])).toMatchObject({ state: 'expired', firstSeenAt: T0 + EXPIRES + 60_000 });
  });

  it('leaves alone a task that started or ended, one without an expiry, and one in another attempt', () => {
    expect(applyEvent(foldEvents(null, [enqueued, ev('received', 10, { retries: 0 }), ev('started', 20)]), mark()).state).toBe('started');
    expect(applyEvent(foldEvents(null, [enqueued, ev('revoked', 20)]), mark()).state).toBe('revoked');
    expect(applyEvent(foldEvents(null, [ev('enqueued', 0, { retries: 0 })]), mark()).state).toBe('enqueued');
    const retry = foldEvents(null, [enqueued, ev('received', 10, { retries: 0 }), ev('retried', 20), ev('enqueued', 30, { retries: 1, expires: iso(EXPIRES) })]);
    expect(applyEvent(retry, mark(0))).toMatchObject({ state: 'enqueued', attempt: 1 });
    expect(applyEvent(retry, mark(1))).toMatchObject({ state: 'expired', attempt: 1 });
  });

  it('gives way to a worker that ran the task late, whatever order the events arrive in', () => {
    const lifecycle = [enqueued, mark(), ev('received', EXPIRES + 5000, { retries: 0 }), ev('started', EXPIRES + 5010), ev('succeeded', EXPIRES + 5050, { result: 3, runtime: 0.04 })];
    for (const order of permutations(lifecycle)) {
      expect(applyInArrivalOrder(order)).toMatchObject({ state: 'succeeded', startedAt: T0 + EXPIRES + 5010, finishedAt: T0 + EXPIRES + 5050, result: 3 });
    }
  });

  it('gives way to the worker\'s own report of the expiry, and holds against a late received', () => {
    const own = ev('expired', EXPIRES + 9000, { retries: 0 });
    for (const order of permutations([enqueued, mark(), own])) expect(applyInArrivalOrder(order)).toMatchObject({ state: 'expired', stateAt: T0 + EXPIRES + 9000 });
    // A worker that receives a message past its expiry discards it (and says so, on Celery).
    expect(applyInArrivalOrder([enqueued, mark(), ev('received', EXPIRES + 5000, { retries: 0 })])).toMatchObject({ state: 'expired', stateAt: T0 + EXPIRES });
  });

  it('refolds an expired task that hears more: its expiry may be a mark', () => {
    const expired = foldEvents(null, [enqueued, mark()]);
    expect(needsRefold(expired, [ev('started', EXPIRES + 5010)])).toBe(true);
  });
});

describe("purge marks (a RabbitMQ purge counted, not named: the tasks z4j had waiting, marked by z4j)", () => {
  const PURGED = 60_000;
  const mark = (attempt = 0): TaskEnvelope => ({ ...ev('revoked', PURGED, { queue: 'mail', retries: attempt, markedBy: 'z4j', inferred: true, reason: 'purged by ada' }), worker: undefined });
  const enqueued = ev('enqueued', 0, { name: 'app.mail', queue: 'mail', retries: 0 }, 'producer@host');

  it('marks a task still waiting in its queue in the attempt it names', () => {
    expect(foldEvents(null, [enqueued, mark()])).toMatchObject({ state: 'revoked', stateAt: T0 + PURGED, finishedAt: T0 + PURGED });
    const retry = foldEvents(null, [enqueued, ev('received', 10, { retries: 0 }), ev('retried', 20), ev('enqueued', 30, { retries: 1 })]);
    expect(applyEvent(retry, mark(0))).toMatchObject({ state: 'enqueued', attempt: 1 });
    expect(applyEvent(retry, mark(1))).toMatchObject({ state: 'revoked', attempt: 1 });
  });

  it('leaves alone a task a worker had taken, and one sent after the purge', () => {
    expect(applyEvent(foldEvents(null, [enqueued, ev('received', 10, { retries: 0 })]), mark()).state).toBe('received');
    expect(applyEvent(foldEvents(null, [ev('enqueued', PURGED + 1, { retries: 0 })]), mark()).state).toBe('enqueued');
  });

  it('gives way to any report of a worker that had taken the task, whatever order the events arrive in', () => {
    // Its events were on their way when the purge looked: the message had left the queue already.
    const lifecycle = [enqueued, mark(), ev('received', PURGED - 100, { retries: 0 }), ev('started', PURGED + 10), ev('succeeded', PURGED + 50, { result: 3 })];
    for (const order of permutations(lifecycle)) expect(applyInArrivalOrder(order)).toMatchObject({ state: 'succeeded', result: 3 });
    for (const order of permutations([enqueued, mark(), ev('received', PURGED + 5000, { retries: 0 })])) expect(applyInArrivalOrder(order).state).toBe('received');
  });

  it("is not a result backend's revoke (a report, though z4j read it), nor a worker's", () => {
    const read = ev('revoked', PURGED, { retries: 0, markedBy: 'z4j', reason: 'read from the result backend' });
    expect(applyInArrivalOrder([enqueued, read, ev('received', PURGED - 100, { retries: 0 })]).state).toBe('revoked');
    expect(applyInArrivalOrder([enqueued, ev('revoked', PURGED, { retries: 0 }), ev('received', PURGED - 100, { retries: 0 })]).state).toBe('revoked');
  });
});

describe('runtime', () => {
  it('is in ms to the microsecond, without the binary noise of seconds × 1000', () => {
    const t = applyEvent(null, ev('succeeded', 0, { runtime: 0.000542 }));
    expect(t.runtimeMs).toBe(0.542);
    expect(applyEvent(null, ev('succeeded', 0, { runtime: 60.139878 })).runtimeMs).toBe(60139.878);
  });
});

describe('times in fields', () => {
  it('reads a time without a zone (a naive Python datetime: Huey, Celery) as UTC, and one with a zone as it says, whatever the service\'s own zone', () => {
    // In a process of its own: JavaScript reads a zone-less time in the process's zone (TZ), which Jest's sandbox cannot change.
    const built = new URL('../../dist/ingest/taskState.js', import.meta.url);
    if (!existsSync(built)) throw new Error(`${built.pathname} is missing: build the service first (npm run build -w backend)`);
    const times = ['2026-11-23T12:05:00.250000', '2026-11-23T12:05', '2026-11-23T12:05:00+01:00', '2026-11-23T12:05:00Z', 'not a time'];
    const script = `import { applyEvent } from ${JSON.stringify(built.href)};
      const ev = (eta) => ({ v: 1, type: 'task', id: 'e', engine: 'huey', project: 'default', kind: 'enqueued', taskId: 't', occurredAt: 0, fields: { eta } });
      console.log(JSON.stringify(${JSON.stringify(times)}.map((eta) => applyEvent(null, ev(eta)).eta)));`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: 'America/New_York' }, encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual([Date.UTC(2026, 10, 23, 12, 5, 0, 250), Date.UTC(2026, 10, 23, 12, 5), Date.UTC(2026, 10, 23, 11, 5), Date.UTC(2026, 10, 23, 12, 5), null]);
  });
});
