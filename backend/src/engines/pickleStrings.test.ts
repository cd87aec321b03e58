import { pickleStrings } from './pickleStrings.js';

describe('pickleStrings', () => {
  test("reads RQ's (func_name, instance, args, kwargs) tuple", () => {
    // pickle.dumps(('tasks.add', None, (1, 2), {}), 5)
    const rq = Buffer.from('8005951900000000000000288c097461736b732e616464944e4b014b0286947d9474942e', 'hex');
    expect(pickleStrings(rq, 1)).toEqual(['tasks.add']);
  });

  test("reads Huey's Message: class, id and task name", () => {
    // huey 3.5 RedisHuey serializer: Message(id='abc', name='__main__.add', args=(1, 2), ...)
    const huey = Buffer.from('8005954d000000000000008c0d687565792e7265676973747279948c074d657373616765949394288c03616263948c0c5f5f6d61696e5f5f2e616464944e4b004b004e4b014b0286947d944e4e4e4e4e4e4b00749481942e', 'hex');
    expect(pickleStrings(huey, 4)).toEqual(['huey.registry', 'Message', 'abc', '__main__.add']);
  });

  test('stops at an unknown opcode or truncated data instead of guessing', () => {
    expect(pickleStrings(Buffer.from([0x80, 0x05, 0x8c, 0x09, 0x61]), 2)).toEqual([]);
    expect(pickleStrings(Buffer.from([0x80, 0x05, 0xff, 0x8c, 0x01, 0x61]), 2)).toEqual([]);
    expect(pickleStrings(Buffer.from('not a pickle'), 2)).toEqual([]);
  });

  test('GLOBAL (protocols 0-3) gives its module and name', () => {
    expect(pickleStrings(Buffer.from('\x80\x02chuey.registry\nMessage\nq\x00(X\x03\x00\x00\x00abc', 'latin1'), 3)).toEqual(['huey.registry', 'Message', 'abc']);
  });

  test("reads arq's job dict, a name that is the memo's copy of a key included", () => {
    // arq.jobs.serialize_job('jobs.add', (1, 'x'), {'k': 'v'}, None, 1700000000000), then with function 'f'
    const add = Buffer.from('8004953f000000000000007d94288c0174944e8c0166948c086a6f62732e616464948c0161944b018c01789486948c016b947d9468078c017694738c026574948a060068e5cf8b01752e', 'hex');
    const f = Buffer.from('80049536000000000000007d94288c0174944e8c01669468028c0161944b018c01789486948c016b947d9468068c017694738c026574948a060068e5cf8b01752e', 'hex');
    expect(pickleStrings(add, 3)).toEqual(['t', 'f', 'jobs.add']);
    expect(pickleStrings(f, 3)).toEqual(['t', 'f', 'f']);
  });
});
