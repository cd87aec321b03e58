// The pickle writer's opcodes, byte for byte (a real RQ worker reads them in
// test/schedules.rq.integration.test.ts).
import { pickleRqCall, pickleTuple } from './pickle.js';

const hex = (items: unknown[]) => pickleTuple(items).toString('hex');
/** The bytes between the tuple's MARK and its TUPLE STOP. */
const one = (v: unknown) => {
  const h = hex([v]);
  expect(h.startsWith('800228') && h.endsWith('742e')).toBe(true);
  return h.slice(6, -4);
};

describe('the pickle writer (protocol 2, JSON values)', () => {
  it('writes a tuple between PROTO 2 and STOP', () => {
    expect(hex([])).toBe('800228742e');
  });

  it('writes None, booleans, strings in UTF-8', () => {
    expect([one(null), one(true), one(false)]).toEqual(['4e', '88', '89']);
    expect(one('é')).toBe('5802000000c3a9');
    expect(one('')).toBe('5800000000');
  });

  it('writes 32-bit integers as BININT, larger ones as LONG1, as short as their sign allows', () => {
    expect([one(1), one(-1), one(2 ** 31 - 1), one(-(2 ** 31))]).toEqual(['4a01000000', '4affffffff', '4affffff7f', '4a00000080']);
    expect(one(2 ** 31)).toBe('8a050000008000');
    expect(one(-(2 ** 31) - 1)).toBe('8a05ffffff7fff');
    expect(one(2 ** 40)).toBe('8a06000000000001');
    expect(one(Number.MAX_SAFE_INTEGER)).toBe('8a07ffffffffffff1f');
  });

  it('writes other numbers (fractions, past 2^53) as BINFLOAT', () => {
    expect(one(0.5)).toBe('473fe0000000000000');
    expect(one(2 ** 60)).toBe('4743b0000000000000');
  });

  it('writes lists and dicts, empty ones without a MARK', () => {
    expect([one([]), one({})]).toEqual(['5d', '7d']);
    expect(one([1, [null]])).toBe('5d284a010000005d284e6565');
    expect(one({ a: 1 })).toBe('7d28580100000061' + '4a01000000' + '75');
  });

  it('refuses what JSON cannot say', () => {
    expect(() => pickleTuple([Infinity])).toThrow(/not a JSON number/);
    expect(() => pickleTuple([() => 1])).toThrow(/a function cannot be pickled/);
  });

  it("writes RQ's call: (func_name, None, args, kwargs)", () => {
    expect(pickleRqCall('tasks.add', [1], {}).toString('hex')).toBe('800228' + '5809000000' + Buffer.from('tasks.add').toString('hex') + '4e' + '5d284a0100000065' + '7d' + '742e');
  });
});
