import { clampToReceipt, validateEnvelope, type Envelope } from './envelope.js';

const good = { v: 1, type: 'task', id: 'e1', engine: 'celery', project: 'default', kind: 'received', taskId: 't1', occurredAt: Date.now(), fields: { name: 'app.add' } };
const reason = (x: unknown) => {
  const r = validateEnvelope(x);
  return r.ok ? 'ok' : r.reason;
};

describe('envelope validation', () => {
  it('accepts a well-formed task and worker event', () => {
    expect(reason(good)).toBe('ok');
    expect(reason({ ...good, type: 'worker', kind: 'worker-heartbeat', worker: 'w@h', fields: { active: 1, freq: 2 } })).toBe('ok');
  });

  it.each([
    ['a string', 'hello', 'not_object'],
    ['null', null, 'not_object'],
    ['an array', [good], 'not_object'],
    ['an unknown kind', { ...good, kind: 'task-exploded' }, 'unknown_kind'],
    ['a worker kind on a task', { ...good, kind: 'worker-online' }, 'unknown_kind'],
    ['no type', { ...good, type: undefined }, 'bad_type'],
    ['a future envelope version', { ...good, v: 2 }, 'bad_v'],
    ['an unknown engine', { ...good, engine: 'sidekiq' }, 'bad_engine'],
    ['a numeric task id', { ...good, taskId: 42 }, 'bad_taskId'],
    ['an empty task id', { ...good, taskId: '' }, 'bad_taskId'],
    ['a huge task id', { ...good, taskId: 'x'.repeat(10_000) }, 'bad_taskId'],
    ['a time as a string', { ...good, occurredAt: '2026-01-01' }, 'bad_occurredAt'],
    ['a time in 1970', { ...good, occurredAt: 1000 }, 'bad_occurredAt'],
    ['NaN time', { ...good, occurredAt: Number.NaN }, 'bad_occurredAt'],
    ['a project with SQL in it', { ...good, project: "x'; DROP TABLE tasks;--" }, 'bad_project'],
    ['fields not an object', { ...good, fields: 'x' }, 'bad_fields'],
    ['retries negative', { ...good, fields: { retries: -1 } }, 'bad_fields_retries'],
    ['retries a string', { ...good, fields: { retries: '1' } }, 'bad_fields_retries'],
    ['a huge task name', { ...good, fields: { name: 'n'.repeat(5000) } }, 'bad_fields_name'],
    ['a null task name', { ...good, fields: { name: null } }, 'bad_fields_name'],
    ['an infinite runtime', { ...good, fields: { runtime: Infinity } }, 'bad_fields_runtime'],
    ['a fractional retry count', { ...good, fields: { retries: 1.5 } }, 'bad_fields_retries'],
    ['a root id as an object', { ...good, fields: { rootId: { $ne: 1 } } }, 'bad_fields_rootId'],
    ['a long eta', { ...good, fields: { eta: '2'.repeat(65) } }, 'bad_fields_eta'],
    ['a numeric event id', { ...good, id: 7 }, 'bad_id'],
    ['a worker that is not text', { ...good, worker: ['w'] }, 'bad_worker'],
    ['a worker event without a worker', { ...good, type: 'worker', kind: 'worker-online', fields: {} }, 'bad_worker'],
    ['a worker event with an empty worker', { ...good, type: 'worker', kind: 'worker-online', worker: '', fields: {} }, 'bad_worker'],
    ['a load average of text', { ...good, type: 'worker', kind: 'worker-heartbeat', worker: 'w@h', fields: { loadavg: ['1'] } }, 'bad_fields_loadavg'],
    ['four load averages', { ...good, type: 'worker', kind: 'worker-heartbeat', worker: 'w@h', fields: { loadavg: [1, 2, 3, 4] } }, 'bad_fields_loadavg'],
    ['a negative pid', { ...good, type: 'worker', kind: 'worker-heartbeat', worker: 'w@h', fields: { pid: -1 } }, 'bad_fields_pid'],
    ['a task kind on a worker', { ...good, type: 'worker', kind: 'received', worker: 'w@h', fields: {} }, 'unknown_kind'],
    // PostgreSQL cannot store a NUL: refused here, not by the write of the whole batch.
    ['a NUL in the task id', { ...good, taskId: 't\u00001' }, 'bad_taskId'],
    ['a NUL in the event id', { ...good, id: 'e\u0000' }, 'bad_id'],
    ['a NUL in a root id', { ...good, fields: { rootId: 'r\u0000' } }, 'bad_fields_rootId'],
    ['a NUL in a task event\'s worker', { ...good, worker: 'w\u0000@h' }, 'bad_worker'],
    ['a NUL in a worker event\'s worker', { ...good, type: 'worker', kind: 'worker-online', worker: 'w\u0000@h', fields: {} }, 'bad_worker'],
  ])('refuses %s', (_label, input, expected) => {
    expect(reason(input)).toBe(expected);
  });

  it('keeps only the envelope keys, and unknown fields for the scrubber', () => {
    const r = validateEnvelope({ ...good, extra: 'dropped', fields: { name: 'app.add', custom: { a: 1 }, nullable: null } });
    expect(r.ok && r.envelope).toEqual({ ...good, fields: { name: 'app.add', custom: { a: 1 }, nullable: null } });
    expect(r.ok && 'extra' in r.envelope).toBe(false);
    // A sealed payload is the service's to attach, never the sender's.
    const forged = validateEnvelope({ ...good, sealedPayload: Buffer.from('forged') });
    expect(forged.ok && 'sealedPayload' in forged.envelope).toBe(false);
  });

  it('keeps deep or huge payload for the scrubber instead of refusing the event', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 5000; i++) deep = { d: deep };
    expect(reason({ ...good, fields: { args: deep, kwargs: { blob: 'x'.repeat(2_000_000) } } })).toBe('ok');
  });

  it('treats invalid UTF-8 decoded with replacement characters as ordinary text', () => {
    const decoded = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('utf8');
    expect(reason({ ...good, fields: { args: JSON.parse(decoded) } })).toBe('ok');
  });
});

describe('an event time past its receipt', () => {
  const at = (occurredAt: number): Envelope => ({ ...good, occurredAt, fields: { name: 'app.add' } }) as Envelope;
  const RECEIVED = 1_764_000_000_000;

  it('is kept within the tolerance, and at the tolerance', () => {
    for (const ev of [at(RECEIVED - 10_000), at(RECEIVED + 1000), at(RECEIVED + 300_000)]) {
      const before = ev.occurredAt;
      expect(clampToReceipt(ev, RECEIVED, 300_000)).toBe(0);
      expect([ev.occurredAt, ev.fields]).toEqual([before, { name: 'app.add' }]);
    }
  });

  it('is the receipt beyond it, with how far ahead it was', () => {
    const ev = at(RECEIVED + 3_600_000.4);
    expect(clampToReceipt(ev, RECEIVED, 300_000)).toBeCloseTo(3_600_000.4);
    expect([ev.occurredAt, ev.fields]).toEqual([RECEIVED, { name: 'app.add', clockSkewMs: 3_600_000 }]);
  });
});
