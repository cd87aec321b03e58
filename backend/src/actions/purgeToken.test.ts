import { randomBytes } from 'node:crypto';
import { Sealer } from '../crypto/seal.js';
import { issuePurgeToken, PurgeTokenError, verifyPurgeToken } from './purgeToken.js';

const sealer = new Sealer([{ id: 1, key: randomBytes(32) }]);
const bound = { projectId: 1, engine: 'celery', queue: 'emails', user: 'alice', filter: {} };
const issue = (now = 1_000_000) => issuePurgeToken(sealer, { ...bound, depth: 12 }, 300, now).token;
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as PurgeTokenError).code;
  }
  return 'accepted';
};

describe('purge confirmation tokens', () => {
  test('accepted for the queue, filter and user they were issued for, within their life', () => {
    expect(verifyPurgeToken(sealer, issue(), bound, 1_000_000 + 299_000)).toMatchObject({ ...bound, depth: 12 });
  });

  test('refused once expired', () => {
    expect(refusal(() => verifyPurgeToken(sealer, issue(), bound, 1_000_000 + 301_000))).toBe('TOKEN_EXPIRED');
  });

  test('refused for another queue, another user or another filter', () => {
    expect(refusal(() => verifyPurgeToken(sealer, issue(), { ...bound, queue: 'billing' }, 1_000_000))).toBe('TOKEN_MISMATCH');
    expect(refusal(() => verifyPurgeToken(sealer, issue(), { ...bound, user: 'mallory' }, 1_000_000))).toBe('TOKEN_MISMATCH');
    expect(refusal(() => verifyPurgeToken(sealer, issue(), { ...bound, filter: { name: 'x' } }, 1_000_000))).toBe('TOKEN_MISMATCH');
  });

  test('refused when edited, forged, or sealed with another key', () => {
    const token = issue();
    const edited = Buffer.from(token, 'base64url');
    edited[edited.length - 1]! ^= 1;
    expect(refusal(() => verifyPurgeToken(sealer, edited.toString('base64url'), bound, 1_000_000))).toBe('TOKEN_INVALID');
    expect(refusal(() => verifyPurgeToken(sealer, 'not a token', bound, 1_000_000))).toBe('TOKEN_INVALID');
    const other = new Sealer([{ id: 1, key: randomBytes(32) }]);
    expect(refusal(() => verifyPurgeToken(other, token, bound, 1_000_000))).toBe('TOKEN_INVALID');
  });

  test('each token is unique', () => {
    expect(issue()).not.toBe(issue());
  });
});
