import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, settings } from './config.js';

describe('configuration', () => {
  it('has working defaults: embedded storage, port 8080, no brokers', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 8080, DATABASE_URL: undefined, Z4J_DATA_DIR: './data', Z4J_CELERY_BROKERS: [], Z4J_INGEST_BATCH_SIZE: 2000 });
  });

  it('parses lists, numbers and booleans', () => {
    const c = loadConfig({ Z4J_CELERY_BROKERS: 'redis://r:6379/0, amqp://guest:guest@mq//', PORT: '9000', Z4J_PRETTY_LOGS: 'yes' });
    expect(c.Z4J_CELERY_BROKERS).toEqual(['redis://r:6379/0', 'amqp://guest:guest@mq//']);
    expect(c.PORT).toBe(9000);
    expect(c.Z4J_PRETTY_LOGS).toBe(true);
  });

  it('names every bad variable and what it expects', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', Z4J_CELERY_BROKERS: 'http://nope' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/PORT="eighty"/);
    expect(msg).toMatch(/DATABASE_URL=.*postgres/);
    expect(msg).toMatch(/Z4J_CELERY_BROKERS=.*redis:\/\//);
  });

  it('is documented in the README, every variable', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(Object.keys(settings).filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
