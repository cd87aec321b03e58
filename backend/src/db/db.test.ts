import { isDataException, isTransientDbError, sqlState } from './db.js';

const pgError = (code: string) => Object.assign(new Error(code), { code });

describe('which database errors are worth another try', () => {
  it('takes connection, resource, failover and lock errors for passing, so no event is set aside for them', () => {
    for (const code of ['08006', '53300', '57P01', '58030', '40001', '40P01', '25006', '55P03']) expect([code, isTransientDbError(pgError(code))]).toEqual([code, true]);
    expect(isTransientDbError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
  });

  it('takes data and constraint errors for bad data: the same rows fail again', () => {
    for (const code of ['22021', '22P02', '23505', '42703']) expect([code, isTransientDbError(pgError(code))]).toEqual([code, false]);
  });

  it('takes an error without a SQLSTATE (a dropped connection, or a fault of z4j\'s own) for passing: retried, never set aside', () => {
    // A fault of the writer's own code would fail every event alike: splitting the batch would
    // set them all aside as rejects (acknowledged, lost). Retried, it stalls loudly and loses
    // nothing; only a failure that lasts while the database answers is split (pipeline.test.ts).
    expect(isTransientDbError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientDbError(new TypeError('Cannot read properties of undefined'))).toBe(true);
  });

  it('takes Node\'s own five-letter codes (EPIPE, EBADF) for network errors, not for SQLSTATEs of bad data', () => {
    for (const code of ['EPIPE', 'EBADF', 'EPERM']) expect([code, isTransientDbError(pgError(code)), sqlState(pgError(code))]).toEqual([code, true, null]);
    expect([sqlState(pgError('22P05')), isDataException(pgError('22P05')), isDataException(pgError('23505'))]).toEqual(['22P05', true, false]);
  });
});
