import { startBanner } from './banner.js';
import { loadConfig } from './config.js';

const URL = 'http://127.0.0.1:8080';

describe('the start banner', () => {
  test('on a first run, says what to set for each way in, and where the proxy secret is', () => {
    const text = startBanner(loadConfig({}, { Z4J_DATA_DIR: './data' }), { url: URL, proxySecretSource: 'data/proxy.secret', actsOn: [] });
    expect(text).toContain('storage: embedded PGlite in ./data');
    expect(text).toMatch(/Celery: +set Z4J_CELERY_BROKERS=/);
    expect(text).toMatch(/Agents: +set Z4J_AGENT_REDIS_URLS=redis:\/\/localhost:6379\/0 \(or Z4J_AGENT_AMQP_URLS\).*Z4J_TRANSPORT=http Z4J_HTTP_URL=http:\/\/127\.0\.0\.1:8080\n/);
    expect(text).toContain('Actions: none yet; to act on celery, rq, dramatiq, huey, arq, taskiq, set Z4J_CELERY_BROKERS, Z4J_RQ_REDIS_URL, Z4J_DRAMATIQ_BROKER_URL, Z4J_HUEY_REDIS_URL, Z4J_ARQ_REDIS_URL, Z4J_TASKIQ_BROKER_URL');
    expect(text).toContain('paste the proxy secret in data/proxy.secret');
    expect(text).toMatch(/Tokens: .*README, "API tokens"/);
  });

  test('once configured, names what it reads and acts on, never a password', () => {
    const config = loadConfig({}, {
      DATABASE_URL: 'postgres://z4j:pw@db:5432/z4j',
      Z4J_CELERY_BROKERS: ['redis://:s3cret@redis:6379/0'],
      Z4J_AGENT_REDIS_URLS: ['redis://agent:s3cret@redis:6379/1'],
      Z4J_AGENT_AMQP_URLS: ['amqp://guest:s3cret@rabbit:5672//'],
      Z4J_PROXY_SECRET: 'a-proxy-secret-of-enough-length',
    });
    const text = startBanner(config, { url: URL, proxySecretSource: 'Z4J_PROXY_SECRET', actsOn: ['celery', 'rq'] });
    expect(text).toContain('storage: PostgreSQL');
    expect(text).toContain('Celery:  consuming events from redis://redis:6379/0');
    expect(text).toContain("Agents:  reading the z4j agents' batches from redis://redis:6379/1, amqp://rabbit:5672// (queue z4j.events), and over HTTP (agents with Z4J_TRANSPORT=http Z4J_HTTP_URL=http://127.0.0.1:8080)");
    expect(text).toContain('Actions: on celery, rq; to act on dramatiq, huey, arq, taskiq, set Z4J_DRAMATIQ_BROKER_URL, Z4J_HUEY_REDIS_URL, Z4J_ARQ_REDIS_URL, Z4J_TASKIQ_BROKER_URL');
    expect(text).toContain('proxy secret from Z4J_PROXY_SECRET');
    expect(text).not.toMatch(/s3cret|pw@|a-proxy-secret/);
  });
});
