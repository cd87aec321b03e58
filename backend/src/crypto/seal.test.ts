import { randomBytes } from 'node:crypto';
import { parseSealKeys, SealError, Sealer } from './seal.js';

const k1 = { id: 1, key: randomBytes(32) };
const k2 = { id: 2, key: randomBytes(32) };

describe('Sealer', () => {
  test('round trip, and the sealed bytes do not contain the plain text', () => {
    const s = new Sealer([k1]);
    const sealed = s.seal('{"password":"hunter2"}', 'p/celery/t1');
    expect(sealed.includes(Buffer.from('hunter2'))).toBe(false);
    expect(s.open(sealed, 'p/celery/t1').toString()).toBe('{"password":"hunter2"}');
  });

  test('every seal has its own IV, across refills of the IV pool; bytes and text seal alike', () => {
    const s = new Sealer([k1]);
    const ivs = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const sealed = i % 2 ? s.seal(`payload ${i}`, 'row') : s.seal(Buffer.from(`payload ${i}`), 'row');
      ivs.add(sealed.subarray(1, 13).toString('hex'));
      expect(s.open(sealed, 'row').toString()).toBe(`payload ${i}`);
    }
    expect(ivs.size).toBe(3000);
  });

  test('a value sealed for one row does not open for another', () => {
    const s = new Sealer([k1]);
    expect(() => s.open(s.seal('x', 'row-a'), 'row-b')).toThrow(SealError);
  });

  test('a flipped byte is detected', () => {
    const s = new Sealer([k1]);
    const sealed = s.seal('payload');
    sealed[sealed.length - 1]! ^= 1;
    expect(() => s.open(sealed)).toThrow(/does not open/);
  });

  test('rotation: old values open with the old key, new values use the newest', () => {
    const old = new Sealer([k1]).seal('before');
    const rotated = new Sealer([k1, k2]);
    expect(rotated.open(old).toString()).toBe('before');
    const fresh = rotated.seal('after');
    expect(fresh[0]).toBe(2);
    expect(() => new Sealer([k1]).open(fresh)).toThrow(/no seal key with id 2/);
  });

  test('bad keys are refused with a reason', () => {
    expect(() => new Sealer([])).toThrow(/at least one/);
    expect(() => new Sealer([{ id: 1, key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => new Sealer([{ id: 0, key: randomBytes(32) }])).toThrow(/1..255/);
    expect(() => new Sealer([k1]).open(Buffer.from([1, 2, 3]))).toThrow(/too short/);
  });

  test('parseSealKeys', () => {
    expect(parseSealKeys(undefined)).toBeNull();
    expect(parseSealKeys('  ')).toBeNull();
    const keys = parseSealKeys(`1:${k1.key.toString('base64')},2:${k2.key.toString('base64')}`)!;
    expect(keys.map((k) => k.id)).toEqual([1, 2]);
    expect(keys[1]!.key.equals(k2.key)).toBe(true);
    expect(() => parseSealKeys('nonsense')).toThrow(SealError);
  });
});
