import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig, misspelledSettings, settings } from './config.js';
import { brokerLocation } from './sources/source.js';

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

  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    throw new Error('the configuration was accepted');
  };

  it('refuses a broker URL whose TLS file cannot be read, naming the variable and the argument', () => {
    expect(refusal({ Z4J_AGENT_AMQP_URLS: 'amqps://mq/%2F?cafile=/no/such/ca.pem' })).toMatch(/Z4J_AGENT_AMQP_URLS=.*cafile=\/no\/such\/ca\.pem: no such file/);
    expect(refusal({ Z4J_RQ_REDIS_URL: 'rediss://r/0?ssl_keyfile=/no/key' })).toMatch(/Z4J_RQ_REDIS_URL=.*ssl_keyfile=\/no\/key: no such file/);
    expect(refusal({ Z4J_CELERY_BROKERS: 'redis://r/0, rediss://r/1?ssl_ca_certs=/no/ca' })).toMatch(/Z4J_CELERY_BROKERS=.*ssl_ca_certs=\/no\/ca/);
  });

  it("takes a RabbitMQ cluster's nodes as a failover list (kombu's `;`), each node checked; Redis's are refused", () => {
    const config = loadConfig({ Z4J_AGENT_AMQP_URLS: 'amqp://u:p@n1//;amqp://u:p@n2//, amqps://c//', Z4J_DRAMATIQ_BROKER_URL: 'amqp://n1//;amqp://n2//' });
    expect(config.Z4J_AGENT_AMQP_URLS).toEqual(['amqp://u:p@n1//;amqp://u:p@n2//', 'amqps://c//']);
    expect(config.Z4J_DRAMATIQ_BROKER_URL).toBe('amqp://n1//;amqp://n2//');
    expect(brokerLocation('amqp://u:p@n1//;amqp://u:p@n2//')).toBe('amqp://n1//;amqp://n2//');
    expect(refusal({ Z4J_RQ_REDIS_URL: 'redis://a/0;redis://b/0' })).toMatch(/Z4J_RQ_REDIS_URL=.*Redis fails over through Sentinel/);
    expect(refusal({ Z4J_CELERY_BROKERS: 'amqp://a//;redis://b/0' })).toMatch(/Z4J_CELERY_BROKERS=.*names the nodes of a RabbitMQ cluster/);
    expect(refusal({ Z4J_AGENT_AMQP_URLS: 'amqp://a//;http://b//' })).toMatch(/Z4J_AGENT_AMQP_URLS=.*amqp:\/\/ or amqps:\/\/ URLs/);
    expect(refusal({ Z4J_TASKIQ_BROKER_URL: 'amqp://a//;amqps://b//?cafile=/no/ca' })).toMatch(/Z4J_TASKIQ_BROKER_URL=.*cafile=\/no\/ca: no such file/);
  });

  it("takes the Dramatiq RedisBroker's namespace, 'dramatiq' unless set", () => {
    expect(loadConfig({}).Z4J_DRAMATIQ_NAMESPACE).toBe('dramatiq');
    expect(loadConfig({ Z4J_DRAMATIQ_NAMESPACE: 'billing:jobs' }).Z4J_DRAMATIQ_NAMESPACE).toBe('billing:jobs');
    expect(refusal({ Z4J_DRAMATIQ_NAMESPACE: 'two words' })).toMatch(/Z4J_DRAMATIQ_NAMESPACE=.*namespace/);
  });

  const key = randomBytes(32).toString('base64');
  // Key lists checked at start by their owner's own rules, naming the variable, never quoting a
  // key. Seal keys: a date as the id (a way people number keys) passed no check with a reason, and
  // 256..999 passed configuration only to stop the start with an error that named no variable.
  // Audit keys: an id past the int column passed the pattern (10 digits), with the same end.
  it.each([
    ['Z4J_SEAL_KEYS', `1:${key}, 255:${key}`, [
      [`20260101:${key}`, /seal key id 20260101 is not in 1\.\.255/],
      [`256:${key}`, /seal key id 256 is not in 1\.\.255/],
      [`0:${key}`, /seal key id 0 is not in 1\.\.255/],
      [`1:${key},1:${key}`, /seal key id 1 is given twice/],
      [`1:${randomBytes(16).toString('base64')}`, /seal key 1 must be 32 bytes, got 16/],
      [`1:${key},two:${key}`, /key 2 is not <id>:<base64 of 32 bytes>/],
    ]],
    ['Z4J_AUDIT_KEYS', `1:${key}, 2147483647:${key}`, [
      [`2147483648:${key}`, /audit key id 2147483648 is not in 1\.\.2147483647/],
      [`0:${key}`, /audit key id 0 is not in 1\.\.2147483647/],
      [`1:${key},1:${key}`, /audit key ids must be unique/],
      [`1:${randomBytes(16).toString('base64')}`, /audit key 1 must be at least 32 bytes/],
      [`1:${key},two:${key}`, /expected <id>:<base64 key>/],
    ]],
  ] as const)('%s takes its valid ids and refuses what its keys would refuse at start, naming the variable, never quoting a key', (name, good, bad) => {
    expect(loadConfig({ [name]: good })[name]).toBe(good);
    for (const [value, reason] of bad) {
      const msg = refusal({ [name]: value });
      expect(msg).toMatch(new RegExp(`^invalid configuration:\n  ${name}=\\(\\d+ characters, not shown\\): `));
      expect(msg).toMatch(reason);
      expect(msg).not.toContain(key.slice(0, 20));
    }
  });

  it("takes Celery result backends: Redis URLs, with an app's global_keyprefix; refuses others", () => {
    const c = loadConfig({ Z4J_CELERY_RESULT_BACKENDS: 'redis://r:6379/1?global_keyprefix=app1:, redis+sentinel://s1:26379,s2:26379/mymaster/2?global_keyprefix=app2' });
    expect(c.Z4J_CELERY_RESULT_BACKENDS).toEqual(['redis://r:6379/1?global_keyprefix=app1:', 'redis+sentinel://s1:26379,s2:26379/mymaster/2?global_keyprefix=app2']);
    expect(c.Z4J_CELERY_RESULT_GRACE).toBe(60);
    expect(() => loadConfig({ Z4J_CELERY_RESULT_BACKENDS: 'amqp://guest:guest@mq//' })).toThrow(/Z4J_CELERY_RESULT_BACKENDS=.*redis:\/\//);
    expect(() => loadConfig({ Z4J_CELERY_RESULT_GRACE: '5' })).toThrow(/Z4J_CELERY_RESULT_GRACE/);
  });

  it('quotes no secret in a refusal: secrets by length, URLs without their password', () => {
    const msg = refusal({ Z4J_PROXY_SECRET: 'short-secret', Z4J_CELERY_BROKERS: 'redis://:hunter2@r:6379/0?sep=', DATABASE_URL: 'mysql://u:hunter3@db/x' });
    expect(msg).toMatch(/Z4J_PROXY_SECRET=\(12 characters, not shown\): at least 16 characters/);
    expect(msg).toContain('DATABASE_URL="mysql://…@db/x"');
    expect(msg).not.toMatch(/short-secret|hunter2|hunter3/);
  });

  it("names the Z4J_ variables that look like a misspelt setting, and leaves the agent's and others alone", () => {
    const env = { Z4J_CELERY_BROKER: 'redis://r', Z4J_SEAL_KEY: 'k', Z4J_PROXY_SECERT: 's', Z4J_DATABASE_URL: 'postgres://x', Z4J_CELERY_BROKERS: 'redis://r', Z4J_TEST_BROKER: 'x', Z4J_TOKEN: 't', PORTS: '1' };
    expect(misspelledSettings(env)).toEqual([
      { name: 'Z4J_CELERY_BROKER', meant: 'Z4J_CELERY_BROKERS' },
      { name: 'Z4J_DATABASE_URL', meant: 'DATABASE_URL' },
      { name: 'Z4J_PROXY_SECERT', meant: 'Z4J_PROXY_SECRET' },
      { name: 'Z4J_SEAL_KEY', meant: 'Z4J_SEAL_KEYS' },
    ]);
    // Every variable the agent reads (its Z4J_HTTP_URL is two edits from Z4J_SMTP_URL): set
    // beside the service, none is a typo.
    const agentSrc = new URL('../../agent/src/z4j_agent/', import.meta.url);
    const agentNames = new Set(readdirSync(agentSrc).filter((f) => f.endsWith('.py')).flatMap((f) => readFileSync(new URL(f, agentSrc), 'utf8').match(/Z4J_[A-Z0-9_]+/g) ?? []));
    // Its settings' variables are made from the Config dataclass's fields (Z4J_ + the name in capitals).
    const agentConfig = readFileSync(new URL('config.py', agentSrc), 'utf8');
    const dataclass = agentConfig.slice(agentConfig.indexOf('class Config'), agentConfig.indexOf('@property'));
    for (const [, field] of dataclass.matchAll(/^ {4}(\w+): /gm)) agentNames.add(`Z4J_${field!.toUpperCase()}`);
    expect(agentNames).toContain('Z4J_REDACT_KEYS');
    expect(misspelledSettings(Object.fromEntries([...agentNames].map((n) => [n, 'x'])))).toEqual([]);
  });

  it('is documented in the README, every variable', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(Object.keys(settings).filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
