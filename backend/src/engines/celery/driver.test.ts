// How the Celery driver turns pidbox replies into a command's outcome, over several brokers
// (the wire itself is tested with real workers in test/actions.celery.integration.test.ts).
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
    purgeQueue: async () => 0,
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
