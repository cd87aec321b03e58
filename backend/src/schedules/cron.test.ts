import { dueAt, MAX_MISSED, nextTimes, normalizeCron, validateCron, validateTimezone } from './cron.js';

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

describe('cron validation', () => {
  it('takes 5 fields and the nicknames, normalized', () => {
    expect(validateCron('  */15   9-17 * * MON-FRI ')).toBe('*/15 9-17 * * MON-FRI');
    for (const n of ['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@annually', '@midnight']) expect(validateCron(n)).toBe(n);
    expect(validateCron('@DAILY')).toBe('@daily');
    expect(normalizeCron('0\t0 * * *')).toBe('0 0 * * *');
  });

  it('refuses a seconds field, saying seconds are not supported', () => {
    expect(() => validateCron('0 */5 * * * *')).toThrow(expect.objectContaining({ status: 400, code: 'INVALID_CRON', message: 'cron needs 5 fields (minute hour day-of-month month day-of-week); seconds are not supported' }));
    expect(() => validateCron('0 0 0 * * * 2030')).toThrow(/seconds and years are not supported/);
  });

  it('says in words what else is wrong', () => {
    const refused = (cron: string) => {
      try {
        validateCron(cron);
      } catch (err) {
        return [(err as { code: string }).code, (err as Error).message];
      }
      return null;
    };
    expect(refused('* * *')).toEqual(['INVALID_CRON', 'cron needs 5 fields (minute hour day-of-month month day-of-week), this one has 3']);
    expect(refused('')).toEqual(['INVALID_CRON', expect.stringMatching(/^cron is empty/)]);
    expect(refused('61 * * * *')).toEqual(['INVALID_CRON', 'cron 61 * * * *: minute 61 is out of range']);
    expect(refused('x * * * *')).toEqual(['INVALID_CRON', 'cron x * * * *: minute "x" has characters cron does not know']);
    expect(refused('5-1 * * * *')).toEqual(['INVALID_CRON', expect.stringMatching(/^cron 5-1 \* \* \* \*: From value is larger than to value/)]);
    expect(refused('0 0 31 2 *')).toEqual(['INVALID_CRON', 'cron 0 0 31 2 * never matches a date']);
    expect(refused('@reboot')).toEqual(['INVALID_CRON', expect.stringMatching(/^@reboot is not supported/)]);
    for (const m of [refused('61 * * * *')![1], refused('x * * * *')![1]]) expect(m).not.toMatch(/CronPattern/);
  });
});

describe('time zones', () => {
  it('takes IANA names, UTC included', () => {
    for (const tz of ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata']) expect(validateTimezone(tz)).toBe(tz);
  });

  it('refuses unknown names and bare offsets with UNKNOWN_TIMEZONE', () => {
    for (const tz of ['Europe/Pariss', 'Mars/Olympus', '', '+01:00', 'x'.repeat(101)]) {
      expect(() => validateTimezone(tz)).toThrow(expect.objectContaining({ status: 400, code: 'UNKNOWN_TIMEZONE' }));
    }
  });
});

describe('next times across DST (Europe/Paris)', () => {
  it('a fixed time in the spring-forward gap runs once, at the first time after it', () => {
    // 30 March 2025: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    expect(iso(nextTimes('30 2 * * *', 'Europe/Paris', new Date('2025-03-29T00:00:00Z'), 3))).toEqual([
      '2025-03-29T01:30:00.000Z', // 02:30 CET
      '2025-03-30T01:00:00.000Z', // 03:00 CEST, right after the gap
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('a fixed time repeated by the fall-back runs once', () => {
    // 26 October 2025: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    expect(iso(nextTimes('30 2 * * *', 'Europe/Paris', new Date('2025-10-25T00:00:00Z'), 3))).toEqual([
      '2025-10-25T00:30:00.000Z',
      '2025-10-26T00:30:00.000Z', // the first 02:30 (CEST) only
      '2025-10-27T01:30:00.000Z',
    ]);
  });

  it('an interval keeps its pace through the repeated hour', () => {
    expect(iso(nextTimes('*/30 * * * *', 'Europe/Paris', new Date('2025-10-26T00:10:00Z'), 4))).toEqual([
      '2025-10-26T00:30:00.000Z', '2025-10-26T01:00:00.000Z', '2025-10-26T01:30:00.000Z', '2025-10-26T02:00:00.000Z',
    ]);
  });

  it('reads the cron in the zone, not in UTC', () => {
    expect(iso(nextTimes('0 9 * * *', 'America/New_York', new Date('2025-07-01T00:00:00Z'), 1))).toEqual(['2025-07-01T13:00:00.000Z']);
    expect(iso(nextTimes('@daily', 'Asia/Kolkata', new Date('2025-07-01T00:00:00Z'), 1))).toEqual(['2025-07-01T18:30:00.000Z']);
  });
});

describe('what a due schedule fires for', () => {
  it('on time: its due time, nothing missed, next after now', () => {
    const d = dueAt('*/5 * * * *', 'UTC', new Date('2025-01-01T10:00:00Z'), new Date('2025-01-01T10:00:02Z'));
    expect([d.dueAt.toISOString(), d.missed, d.next?.toISOString()]).toEqual(['2025-01-01T10:00:00.000Z', 0, '2025-01-01T10:05:00.000Z']);
  });

  it('after a long gap: once, for the latest due time, counting the rest', () => {
    // Due at 10:00, back at 13:02: 10:00 … 12:55 skipped (36), 13:00 fires.
    const d = dueAt('*/5 * * * *', 'UTC', new Date('2025-01-01T10:00:00Z'), new Date('2025-01-01T13:02:00Z'));
    expect([d.dueAt.toISOString(), d.missed, d.next?.toISOString()]).toEqual(['2025-01-01T13:00:00.000Z', 36, '2025-01-01T13:05:00.000Z']);
  });

  it('a long gap in a zone: counted up to 100 (at least that many), not to the last one', () => {
    // A minutely schedule after a 17-hour outage: 1,020 times skipped, counted to the cap.
    const d = dueAt('* * * * *', 'Europe/Paris', new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T17:00:30Z'));
    expect([d.dueAt.toISOString(), d.missed, d.next?.toISOString()]).toEqual(['2025-01-01T17:00:00.000Z', 100, '2025-01-01T17:01:00.000Z']);
    expect(MAX_MISSED).toBe(100);
  });

  it('counts at most MAX_MISSED', () => {
    const d = dueAt('* * * * *', 'UTC', new Date('2025-01-01T00:00:00Z'), new Date('2025-02-01T00:00:30Z'));
    expect([d.dueAt.toISOString(), d.missed]).toEqual(['2025-02-01T00:00:00.000Z', MAX_MISSED]);
  });
});
