// How the Celery driver turns pidbox replies into a command's outcome, over several brokers
// (the wire itself is tested with real workers in test/actions.celery.integration.test.ts).
import { jest } from '@jest/globals';
import { CommandEnded } from '../../actions/commands.js';
import type { CeleryBroker } from '../../sources/celery/broker.js';
import type { PidboxReply } from '../../sources/celery/pidbox.js';
import { CeleryDriver } from './driver.js';

const W = 'celery@w1';

/** A broker whose workers answer `answer` to every request (a rejected promise: the broker is down). */
function broker(answer: (method: string) => Promise<PidboxReply[]>): CeleryBroker & { sent: string[] } {
  const sent: string[] = [];
  return {
    name: 'fake', sent,
    broadcast: async (method) => { sent.push(method); },
    request: async (method) => { sent.push(method); return answer(method); },
    queueDepth: async () => 0,
    publishTask: async () => undefined,
    purgeQueue: async () => ({ purged: 0 }),
  };
}
const silent = () => broker(async () => []);
const ended = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    if (err instanceof CommandEnded) return { state: err.state, message: err.message, detail: err.detail };
    throw err;
  }
  throw new Error('the command did not end');
};

describe('Celery worker control outcomes', () => {
  test("the worker's ok is the outcome, from whichever broker it listens on", async () => {
    const driver = new CeleryDriver([silent(), broker(async () => [{ [W]: { ok: 'pool will grow' } }])]);
    expect(await driver.workerControl(W, 'pool_grow', { n: 1 })).toEqual({ detail: { worker: W, reply: 'pool will grow' } });
  });

  test("the worker's error fails the command; another worker's reply is not this one's", async () => {
    const refused = new CeleryDriver([broker(async () => [{ [W]: { error: 'unknown task' } }])]);
    expect(await ended(refused.workerControl(W, 'rate_limit', { taskName: 'x', rateLimit: '1/s' }))).toMatchObject({ state: 'failed', detail: { worker: W, error: 'unknown task' } });
    const other = new CeleryDriver([broker(async () => [{ 'celery@w2': { ok: 'pool will grow' } }])], 'z4j', 50);
    expect(await ended(other.workerControl(W, 'pool_grow', {}))).toMatchObject({ state: 'timed_out' });
  });

  test('a broker that fails matters only when no other one hears the worker', async () => {
    const down = broker(async () => { throw new Error('connection refused'); });
    const answered = new CeleryDriver([down, broker(async () => [{ [W]: { ok: 'pool will shrink' } }])]);
    expect((await answered.workerControl(W, 'pool_shrink', {})).detail).toMatchObject({ reply: 'pool will shrink' });
    await expect(new CeleryDriver([down, silent()]).workerControl(W, 'pool_shrink', {})).rejects.toThrow('connection refused');
  });

  test('a name that answers on two brokers (two Celery apps) is acted on nowhere; one that answers on one, only there', async () => {
    const pong = () => broker(async () => [{ [W]: { ok: 'pong' } }]);
    const [a, b] = [pong(), pong()];
    for (const action of ['pool_shrink', 'shutdown'] as const) {
      expect(await ended(new CeleryDriver([a, b], 'z4j', 50).workerControl(W, action, {}))).toMatchObject({ state: 'failed', message: expect.stringMatching(/answer on 2 brokers/) });
    }
    expect([a.sent, b.sent]).toEqual([['ping', 'ping'], ['ping', 'ping']]);

    const [here, elsewhere] = [pong(), silent()];
    await new CeleryDriver([elsewhere, here], 'z4j', 50).workerControl(W, 'pool_shrink', {});
    expect([here.sent, elsewhere.sent]).toEqual([['ping', 'pool_shrink'], ['ping']]);
    await expect(new CeleryDriver([]).workerControl(W, 'shutdown', {})).rejects.toThrow(/no Celery broker/);
  });

  test('shutdown goes only to a worker that answers a ping, and succeeds once it stops answering', async () => {
    const ghost = silent();
    expect(await ended(new CeleryDriver([ghost], 'z4j', 50).workerControl(W, 'shutdown', {}))).toMatchObject({ state: 'timed_out', message: expect.stringMatching(/shutdown not sent/) });
    expect(ghost.sent).toEqual(['ping']);

    let up = true;
    const b = broker(async () => (up ? [{ [W]: { ok: 'pong' } }] : []));
    const broadcast = b.broadcast;
    b.broadcast = async (method, ...rest) => { await broadcast(method, ...rest); if (method === 'shutdown') up = false; };
    const done = await new CeleryDriver([b], 'z4j', 50).workerControl(W, 'shutdown', {});
    expect(done.detail).toMatchObject({ worker: W, reply: null, message: expect.stringMatching(/stopped answering/) });
    expect(b.sent.slice(0, 3)).toEqual(['ping', 'shutdown', 'ping']);

    const stubborn = broker(async () => [{ [W]: { ok: 'pong' } }]);
    expect(await ended(new CeleryDriver([stubborn], 'z4j', 200).workerControl(W, 'shutdown', {}))).toMatchObject({ state: 'timed_out', message: expect.stringMatching(/still answers/) });
  });
});

describe('Celery terminate, by the answer of the worker running the task', () => {
  const running = { taskId: 't1', name: 'z4j.sleep', queue: 'q', worker: W, state: 'started' };
  const THREADS_POOL = 'NotImplementedError("<class \'celery.concurrency.thread.TaskPool\'> does not implement kill_job")';

  test("the worker's ok dispatches it: the task's revoked event settles it", async () => {
    const b = broker(async () => [{ 'celery@w2': { ok: 'terminate: tasks unknown' } }, { [W]: { ok: 'terminate: t1' } }]);
    expect(await new CeleryDriver([b]).terminate(running)).toEqual({ detail: { worker: W, reply: 'terminate: t1' } });
    expect(b.sent).toEqual(['revoke']);
  });

  test("a pool that cannot stop a task (Celery's threads pool) fails the command and says why", async () => {
    const threads = new CeleryDriver([silent(), broker(async () => [{ [W]: { error: THREADS_POOL } }])]);
    expect(await ended(threads.terminate(running))).toMatchObject({
      state: 'failed', message: expect.stringMatching(/cannot terminate a running task: its pool cannot stop one .* runs to its end/), detail: { worker: W, error: THREADS_POOL },
    });
    const other = new CeleryDriver([broker(async () => [{ [W]: { error: 'KeyError(1)' } }])]);
    expect(await ended(other.terminate(running))).toMatchObject({ state: 'failed', message: `${W} refused: KeyError(1)` });
  });

  test('no answer (a worker too busy, or gone) leaves it dispatched, saying so', async () => {
    expect((await new CeleryDriver([silent(), silent()]).terminate(running)).detail).toMatchObject({ worker: W, reply: null, message: expect.stringMatching(/did not answer within 2 s \(busy, or gone\)/) });
    const down = broker(async () => { throw new Error('connection refused'); });
    await expect(new CeleryDriver([down, silent()]).terminate(running)).rejects.toThrow('connection refused');
    expect((await new CeleryDriver([down, broker(async () => [{ [W]: { ok: 'terminate: t1' } }])]).terminate(running)).detail).toMatchObject({ reply: 'terminate: t1' });
  });

  test('a task no worker was seen with is revoked everywhere, answers unawaited', async () => {
    const b = silent();
    expect(await new CeleryDriver([b]).terminate({ ...running, worker: null, state: 'received' })).toEqual({});
    expect(b.sent).toEqual(['revoke']);
  });
});

test("a pool of a fixed size (solo, threads) refuses to grow, and the command says why", async () => {
  const error = 'AttributeError("\'TaskPool\' object has no attribute \'grow\'")';
  const driver = new CeleryDriver([broker(async () => [{ [W]: { error } }])]);
  expect(await ended(driver.workerControl(W, 'pool_grow', { n: 1 }))).toMatchObject({ state: 'failed', message: expect.stringMatching(/its pool has a fixed size/), detail: { error } });
});

test('a retry in a serializer z4j cannot write fails before anything is sent', async () => {
  const b = silent();
  const publishTask = jest.fn(async () => undefined);
  const driver = new CeleryDriver([{ ...b, publishTask }]);
  expect(await ended(driver.retry({ name: 'x', args: [], kwargs: {}, options: { serializer: 'yaml' } }, 'n1', null))).toMatchObject({ state: 'failed', message: expect.stringMatching(/"yaml" serializer, which z4j cannot write/) });
  expect(publishTask).not.toHaveBeenCalled();
});
