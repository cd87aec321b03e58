// The body of a Celery task message in the serializer the original was sent with: workers accept
// only their accept_content (test/celery.serializers.integration.test.ts sends these to real ones).
import { decode } from '@msgpack/msgpack';
import { pickleTuple } from '../rq/pickle.js';
import { celeryTaskMessage, unsupportedSerializer } from './taskMessage.js';

const call = (options?: Record<string, unknown>) => ({ name: 'app.add', args: [1, 'a'], kwargs: { k: [true, null] }, queue: 'q', options });
const EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };

test('json unless the agent recorded another serializer', () => {
  const m = celeryTaskMessage(call(), 't1', 'z4j');
  expect(m.content).toEqual({ bytes: Buffer.from(JSON.stringify([[1, 'a'], { k: [true, null] }, EMBED])), type: 'application/json', encoding: 'utf-8' });
  expect(m.body).toEqual([[1, 'a'], { k: [true, null] }, EMBED]);
});

test("pickle and msgpack as kombu names and carries them", () => {
  const pickled = celeryTaskMessage(call({ serializer: 'pickle' }), 't1', 'z4j').content;
  expect(pickled).toEqual({ bytes: pickleTuple([[1, 'a'], { k: [true, null] }, EMBED]), type: 'application/x-python-serialize', encoding: 'binary' });
  const packed = celeryTaskMessage(call({ serializer: 'msgpack' }), 't1', 'z4j').content;
  expect([packed.type, packed.encoding]).toEqual(['application/x-msgpack', 'binary']);
  expect(decode(packed.bytes)).toEqual([[1, 'a'], { k: [true, null] }, EMBED]);
});

test('a serializer z4j cannot write is refused, with what it can', () => {
  for (const serializer of ['yaml', 'toString', 42]) {
    expect(unsupportedSerializer(call({ serializer }))).toMatch(/serializer, which z4j cannot write \(it writes json, pickle, msgpack\)/);
    expect(() => celeryTaskMessage(call({ serializer }), 't1', 'z4j')).toThrow(/cannot write/);
  }
  expect(unsupportedSerializer(call({ serializer: 'msgpack' }))).toBeNull();
});
