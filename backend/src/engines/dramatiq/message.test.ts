import { countRequeue } from './message.js';

const letter = (text: string) => Buffer.from(text, 'utf8');
const requeued = (text: string) => {
  const r = countRequeue(letter(text));
  return r && { text: r.message.toString('utf8'), taskId: r.taskId, attempt: r.attempt };
};

describe("a dead letter's requeue count", () => {
  test('is added to options as Dramatiq encodes a message, the rest kept byte for byte', () => {
    const text = '{"queue_name":"default","actor_name":"add","args":[1,2],"kwargs":{},"options":{"retries":3,"redis_message_id":"r1"},"message_id":"m1","message_timestamp":1}';
    expect(requeued(text)).toEqual({
      text: text.replace('"options":{', '"options":{"z4j_requeues":1,'),
      taskId: 'm1',
      attempt: 4,
    });
  });

  test('goes one up each time; an empty options object gets it alone', () => {
    const once = requeued('{"args":[],"options":{},"message_id":"m2"}')!;
    expect(once).toEqual({ text: '{"args":[],"options":{"z4j_requeues":1},"message_id":"m2"}', taskId: 'm2', attempt: 1 });
    const twice = requeued('{"args":[],"options":{ "retries" : 2, "z4j_requeues" : 1 },"message_id":"m2"}')!;
    expect(twice).toEqual({ text: '{"args":[],"options":{ "retries" : 2, "z4j_requeues" : 2 },"message_id":"m2"}', taskId: 'm2', attempt: 4 });
  });

  test('is never written into the arguments, whatever they hold; integers past 2^53 stay exact', () => {
    const tricky = '{"args":["\\"options\\":{", {"options": {"z4j_requeues": 7}}],"kwargs":{"options":{}, "id": 12345678901234567890, "s": "é}\\\\"},"options":{"pipe_target":{"options":{"z4j_requeues":5}}},"message_id":"m3"}';
    const r = requeued(tricky)!;
    expect(r.text).toBe(tricky.replace('},"options":{"pipe_target"', '},"options":{"z4j_requeues":1,"pipe_target"'));
    expect(r.attempt).toBe(1);
    expect(r.text).toContain('12345678901234567890');
  });

  test('leaves a letter that is not JSON, or not a Dramatiq message, as it was', () => {
    expect(countRequeue(Buffer.from([0x80, 0x05, 0x95]))).toBeNull(); // a PickleEncoder's
    expect(requeued('{"args":[],"message_id":"m4"}')).toBeNull();
    expect(requeued('{"options":[],"message_id":"m4"}')).toBeNull();
    expect(requeued('{"options":{}}')).toBeNull();
  });
});
