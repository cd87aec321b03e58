import { readFileSync } from 'node:fs';
import { REDACTED, cleanString, isSensitiveKey, redactText, scrub } from './redact.js';

// Shared with the Python agent's redactor: both must catch and keep the same strings.
const corpus = JSON.parse(readFileSync(new URL('../../../tests/fixtures/redaction-corpus.json', import.meta.url), 'utf8')) as {
  secrets: { text: string; secret: string }[];
  ordinary: string[];
  sensitiveKeys: string[];
  ordinaryKeys: string[];
};

describe('redaction', () => {
  it.each(corpus.secrets.map((s) => [s.text, s.secret]))('hides the secret in %s', (text, secret) => {
    const out = redactText(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  // redactText skips texts that cannot hold a secret by a cheap test first: one sample of each
  // shape it knows (the corpus above has more) proves that test lets every shape through.
  it.each([
    ['pem', '-----BEGIN RSA PRIVATE KEY-----MIIEabc-----END RSA PRIVATE KEY-----'],
    ['jwt', 'eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl'],
    ['aws', 'AKIAABCDEFGHIJKLMNOP'],
    ['github', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
    ['slack', 'xoxb-1234567890-abcdef'],
    ['stripe', 'rk_live_abcdefghijklmnop1234'],
    ['google', 'AIzaabcdefghijklmnopqrstuvwxyz012345678'],
    ['openai', 'sk-abcdefghijklmnopqrstuvwx'],
    ['gitlab', 'glpat-abcdefghijklmnopqrstuv'],
    ['sendgrid', 'SG.abcdefghijklmnopq.abcdefghijklmnopq'],
    ['bearer', 'Bearer abcdefghijklmnop'],
    ['url', 'redis://user:hunter2hunter2@cache:6379/0'],
    ['pair', "{'pin': '8812', 'x': 1}"],
  ])('finds a %s secret past the quick pre-check', (_kind, text) => {
    expect(redactText(`x ${text} y`)).toContain(REDACTED);
  });

  it.each(corpus.ordinary)('keeps the ordinary value %s', (text) => {
    expect(redactText(text)).toBe(text);
  });

  it.each(corpus.sensitiveKeys)('treats the key %s as sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
    expect(scrub({ [key]: 'value-1234' })).toEqual({ [key]: REDACTED });
  });

  it.each(corpus.ordinaryKeys)('keeps the key %s', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });

  it('walks nested structures, arrays included', () => {
    expect(scrub({ user: { name: 'bob', credentials: { a: 1 } }, items: [{ token: 't' }, 'Bearer abcdefghijklmnop'] })).toEqual({
      user: { name: 'bob', credentials: REDACTED },
      items: [{ token: REDACTED }, `Bearer ${REDACTED}`],
    });
  });

  it('survives cycles, depth and size', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(scrub(a)).toEqual({ name: 'a', self: '[cycle]' });
    let deep: unknown = 'x';
    for (let i = 0; i < 50; i++) deep = [deep];
    expect(JSON.stringify(scrub(deep, { maxDepth: 3, maxItems: 10, maxStringChars: 10 }))).toBe('[[["[depth limit]"]]]');
    expect(scrub(Array.from({ length: 12 }, (_, i) => i), { maxDepth: 3, maxItems: 10, maxStringChars: 10 })).toHaveLength(11);
    expect(cleanString('abcdefghijkl', 5)).toBe('abcde…[7 more chars]');
  });

  it('makes strings storable in Postgres', () => {
    expect(cleanString('a\u0000b\ud800c\udc00d\ud83d\ude00', 100)).toBe('a\ufffdb\ufffdc\ufffdd\ud83d\ude00');
    expect(scrub({ n: Number.NaN, i: Infinity, b: 10n, f: () => 1 })).toEqual({ n: null, i: null, b: '10', f: null });
  });
});

test('a name/value pair and a secret-shaped key are hidden too', () => {
  expect(scrub([['X-Api-Key', 'abcd1234efgh'], ['Accept', 'application/json']])).toEqual([['X-Api-Key', '[redacted]'], ['Accept', 'application/json']]);
  expect(scrub({ 'postgres://app:pw99999@db/app': 'ok' })).toEqual({ 'postgres://app:[redacted]@db/app': 'ok' });
});

test('a secret straddling the cut of a long string is hidden, not half-shown', () => {
  const long = `${'y'.repeat(40)}password='hunter2hunter2'`;
  const out = scrub(long, { maxStringChars: 55, maxDepth: 10, maxItems: 500 }) as string;
  expect(out).not.toMatch(/hunter/);
  expect(out).toMatch(/more chars\]$/);
});
