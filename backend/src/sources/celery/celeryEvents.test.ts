import { validateEnvelope } from '../../ingest/envelope.js';
import { mapCeleryEvent } from './celeryEvents.js';
import { candidatesOf } from './celeryIngest.js';
import { decodeAmqpMessage, decodeRedisMessage, encodeRedisMessage, UndecodableMessage } from './kombu.js';

const base = { hostname: 'celery@w1', utcoffset: 0, pid: 4242, clock: 17, timestamp: 1795470000.123456 };

function mapped(ev: Record<string, unknown>) {
  const m = mapCeleryEvent(ev, 'default');
  if (!m.ok) throw new Error(m.reason);
  const v = validateEnvelope(m.candidate);
  if (!v.ok) throw new Error(v.reason);
  return v.envelope;
}

describe('Celery events to envelopes', () => {
  it('maps task-received with its links and attempt', () => {
    const e = mapped({ ...base, type: 'task-received', uuid: 'u1', name: 'app.add', args: '(1, 2)', kwargs: '{}', root_id: 'r1', parent_id: 'p1', retries: 2, eta: null, expires: null });
    expect(e).toMatchObject({ type: 'task', kind: 'received', taskId: 'u1', worker: 'celery@w1', occurredAt: 1795470000123, fields: { name: 'app.add', args: '(1, 2)', rootId: 'r1', parentId: 'p1', retries: 2 } });
  });

  it('does not take the producer of task-sent for the worker', () => {
    const e = mapped({ ...base, hostname: 'gen@web1', type: 'task-sent', uuid: 'u1', name: 'app.add', queue: 'high', exchange: '', routing_key: 'high', retries: 0 });
    expect(e).toMatchObject({ kind: 'enqueued', worker: undefined, fields: { queue: 'high', retries: 0 } });
  });

  it.each([
    ['task-started', 'started'],
    ['task-succeeded', 'succeeded'],
    ['task-failed', 'failed'],
    ['task-retried', 'retried'],
    ['task-revoked', 'revoked'],
    ['task-rejected', 'rejected'],
  ])('maps %s to %s', (type, kind) => {
    expect(mapped({ ...base, type, uuid: 'u1' }).kind).toBe(kind);
  });

  it('keeps whether a rejection requeued its message', () => {
    expect(mapped({ ...base, type: 'task-rejected', uuid: 'u1', requeue: true }).fields).toMatchObject({ requeue: true });
    expect(mapped({ ...base, type: 'task-rejected', uuid: 'u1', requeue: false }).fields).toMatchObject({ requeue: false });
  });

  it('maps an expired revoke to expired, and keeps outcome fields', () => {
    expect(mapped({ ...base, type: 'task-revoked', uuid: 'u1', expired: true, terminated: false }).kind).toBe('expired');
    expect(mapped({ ...base, type: 'task-succeeded', uuid: 'u1', result: "'ok'", runtime: 0.25 }).fields).toMatchObject({ result: "'ok'", runtime: 0.25 });
    expect(mapped({ ...base, type: 'task-failed', uuid: 'u1', exception: "ValueError('x')", traceback: 'Traceback…' }).fields).toMatchObject({ exception: "ValueError('x')", traceback: 'Traceback…' });
  });

  it('marks a task stopped at its time limit timed out, as the agent does for the other engines', () => {
    const failed = (exception: string, traceback?: string) => mapped({ ...base, type: 'task-failed', uuid: 'u1', exception, traceback }).fields;
    // The hard limit, as Celery 5.3 and 5.7 send it (seen with a prefork worker): billiard's wrapper, the exception in the traceback.
    const hard = 'Traceback (most recent call last):\n  File "…/billiard/pool.py", line 745, in on_hard_timeout\n    raise TimeLimitExceeded(job._timeout)\nbilliard.exceptions.TimeLimitExceeded: TimeLimitExceeded(1,)\n';
    expect(failed('ExceptionWithTraceback()', hard)).toMatchObject({ exception: 'TimeLimitExceeded: TimeLimitExceeded(1,)', traceback: hard, timedOut: true });
    expect(failed('ExceptionWithTraceback()')).toMatchObject({ exception: 'ExceptionWithTraceback()' }); // nothing better to say
    expect(failed('ExceptionWithTraceback()', 'Traceback…\nbilliard.exceptions.WorkerLostError: Worker exited prematurely\n')).not.toHaveProperty('timedOut');
    expect(failed('TimeLimitExceeded(5.0)')).toMatchObject({ timedOut: true });
    expect(failed('SoftTimeLimitExceeded()')).toMatchObject({ timedOut: true }); // raised in the task, not caught
    expect(failed("ValueError('TimeLimitExceeded')")).not.toHaveProperty('timedOut');
    expect(mapped({ ...base, type: 'task-retried', uuid: 'u1', exception: 'SoftTimeLimitExceeded()' }).fields).toMatchObject({ timedOut: true });
    expect(mapped({ ...base, type: 'task-succeeded', uuid: 'u1', exception: 'TimeLimitExceeded(5.0)' }).fields).not.toHaveProperty('timedOut');
  });

  it('does not take a retry for its own child', () => {
    const e = mapped({ ...base, type: 'task-sent', uuid: 'u1', name: 'app.add', retries: 1, root_id: 'u1', parent_id: 'u1' });
    expect(e.type === 'task' && e.fields.parentId).toBeFalsy();
    expect(e.type === 'task' && e.fields.rootId).toBe('u1');
  });

  it('maps worker events with their load', () => {
    const e = mapped({ ...base, type: 'worker-heartbeat', freq: 2.0, active: 1, processed: 10, loadavg: [0.1, 0.2, 0.3], sw_ident: 'py-celery', sw_ver: '5.6.0' });
    expect(e).toMatchObject({ type: 'worker', kind: 'worker-heartbeat', worker: 'celery@w1', fields: { freq: 2, active: 1, processed: 10, software: 'py-celery 5.6.0' } });
  });

  it('gives the same event the same id, and different events different ids', () => {
    const a = mapped({ ...base, type: 'task-started', uuid: 'u1' });
    expect(mapped({ ...base, type: 'task-started', uuid: 'u1' }).id).toBe(a.id);
    expect(mapped({ ...base, clock: 18, type: 'task-started', uuid: 'u1' }).id).not.toBe(a.id);
    expect(mapped({ ...base, type: 'task-started', uuid: 'u2' }).id).not.toBe(a.id);
  });

  it('refuses events it cannot place, with a reason', () => {
    // An app's own event types (Task.send_event) are left aside, not counted as bad input.
    expect(mapCeleryEvent({ ...base, type: 'task-progress', uuid: 'u1' }, 'default')).toEqual({ ok: false, reason: 'custom_event' });
    expect(mapCeleryEvent({ ...base, type: 'bogus', uuid: 'u1' }, 'default')).toEqual({ ok: false, reason: 'unknown_kind' });
    expect(mapCeleryEvent({ ...base }, 'default')).toEqual({ ok: false, reason: 'no_type' });
    expect(mapCeleryEvent([1], 'default')).toEqual({ ok: false, reason: 'not_object' });
    const noUuid = mapCeleryEvent({ ...base, type: 'task-started' }, 'default');
    expect(noUuid.ok && validateEnvelope(noUuid.candidate)).toEqual({ ok: false, reason: 'bad_taskId' });
  });
});

describe('hostile Celery events', () => {
  // Objects whose own toString is not a function, or throws: made into text, they would throw.
  const hostile = [{ toString: 1 }, { toString: () => { throw new Error('no'); } }, Object.create(null)];

  it('never run or trip on a value\'s own toString, in the id or the software version', () => {
    for (const value of hostile) {
      expect(() => mapCeleryEvent({ ...base, type: 'worker-heartbeat', clock: value, pid: value, sw_ident: 'py-celery', sw_ver: value }, 'default')).not.toThrow();
      expect(() => mapCeleryEvent({ ...base, type: 'task-started', uuid: 'u1', clock: value, pid: value }, 'default')).not.toThrow();
    }
  });

  it('refuse an event whose mapping fails, and keep the message\'s other events; ignore custom ones without a sample', () => {
    const rejected: string[] = [];
    const ignored: string[] = [];
    const pipeline = { reject: (_s: string, reason: string) => rejected.push(reason), ignore: (_s: string, reason: string) => ignored.push(reason) };
    const trap = new Proxy({}, { get: () => { throw new Error('a getter that throws'); } });
    const body = [trap, { ...base, type: 'task-progress', uuid: 'u1' }, { ...base, type: 'task-started', uuid: 'u2' }];
    const out = candidatesOf({ pipeline: pipeline as never, project: 'default', source: 'test' }, () => body);
    expect([out.length, rejected, ignored]).toEqual([1, ['bad_event'], ['custom_event']]);
  });
});

describe('kombu envelopes', () => {
  it('round-trips a Redis message with a base64 JSON body', () => {
    const msg = encodeRedisMessage([{ type: 'task-started' }], { hostname: 'x' }, { exchange: 'celeryev', routing_key: 'task.multi' });
    expect(decodeRedisMessage(Buffer.from(msg))).toEqual([{ type: 'task-started' }]);
  });

  it.each([
    ['not JSON', 'garbage', 'bad_envelope'],
    ['no body', '{"headers":{}}', 'bad_envelope'],
    ['a pickle body', JSON.stringify({ body: 'gAJ9cQAu', 'content-type': 'application/x-python-serialize', properties: { body_encoding: 'base64' } }), 'unsupported_content_type'],
    ['a broken JSON body', JSON.stringify({ body: Buffer.from('{"a":').toString('base64'), 'content-type': 'application/json', properties: { body_encoding: 'base64' } }), 'bad_json'],
  ])('refuses %s', (_label, payload, reason) => {
    expect(() => decodeRedisMessage(payload)).toThrow(UndecodableMessage);
    try {
      decodeRedisMessage(payload);
    } catch (err) {
      expect((err as UndecodableMessage).reason).toBe(reason);
    }
  });

  it('decodes AMQP JSON bodies and refuses others', () => {
    expect(decodeAmqpMessage(Buffer.from('{"type":"worker-online"}'), 'application/json')).toEqual({ type: 'worker-online' });
    expect(() => decodeAmqpMessage(Buffer.from('x'), 'application/x-python-serialize')).toThrow('unsupported_content_type');
  });
});
