import type amqp from 'amqplib';
import { diedIn } from './amqpDriver.js';

const letter = (headers: Record<string, unknown>) => ({ properties: { headers } }) as unknown as amqp.GetMessage;

describe('the queue a dead letter goes back to', () => {
  test('is the one it died in last: a delayed message first passed through its delay queue by design', () => {
    // RabbitMQ lists x-death newest first; x-first-death-queue is the delay queue the TTL routed it out of.
    const delayed = letter({ 'x-first-death-queue': 'tq.delay', 'x-death': [{ queue: 'tq', reason: 'expired' }, { queue: 'tq.delay', reason: 'expired' }] });
    expect(diedIn(delayed)).toBe('tq');
    expect(diedIn(letter({ 'x-last-death-queue': 'tq', 'x-first-death-queue': 'tq.delay' }))).toBe('tq');
    expect(diedIn(letter({ 'x-death': [{ queue: Buffer.from('tq') }] }))).toBe('tq');
    expect(diedIn(letter({}))).toBeNull();
  });
});
