import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerTls } from './brokerTls.js';
import { ConfigError, loadConfig } from './config.js';
import { parseSentinelUrl, sentinelLocation, sentinelOptions } from './redisSentinel.js';
import { brokerLocation } from './sources/source.js';
import { redisDb, splitCeleryRedisUrl } from './sources/celery/redisLayout.js';

// The same URLs as the agent's tests (agent/tests/unit/test_redis_sentinel.py): one URL serves both.
describe('a redis+sentinel:// URL', () => {
  it('names the sentinels, the master, its db and credentials, and the sentinels’ own', () => {
    const url = 'redis+sentinel://app:p%40ss%3Aw%2Frd@10.0.0.1:26379,[::1]:26380/my%20master/3?sentinel_username=watcher&sentinel_password=s3cret';
    expect(parseSentinelUrl(url)).toEqual({
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '::1', port: 26380 }], name: 'my master', db: 3, username: 'app', password: 'p@ss:w/rd',
      sentinelUsername: 'watcher', sentinelPassword: 's3cret', tls: false, sentinelTls: false,
    });
  });

  it('may leave out the port, the db and the user', () => {
    expect(parseSentinelUrl('redis+sentinel://a,b:26390/mymaster')).toMatchObject({ sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26390 }], name: 'mymaster', db: 0 });
    expect(parseSentinelUrl('redis+sentinel://:pw@a/m/1')).toMatchObject({ username: undefined, password: 'pw', db: 1 });
  });

  it.each([
    ['redis+sentinel://a:26379', "names its sentinels and the master's name"],
    ['redis+sentinel:///mymaster', "names its sentinels and the master's name"],
    ['redis+sentinel://a:26379/mymaster/0/x', 'the db number only'],
    ['redis+sentinel://a:26379/mymaster/zero', 'the db number only'],
    ['redis+sentinel://a:port/mymaster', "host:port, not 'a:port'"],
    ['redis+sentinel://a/mymaster?socket_timeout=1', 'takes sentinel_username, sentinel_password, sentinel_ssl in its query, not socket_timeout'],
  ])('%s is refused: %s', (url, says) => {
    expect(() => parseSentinelUrl(url)).toThrow(says);
    expect(() => loadConfig({ Z4J_RQ_REDIS_URL: url })).toThrow(ConfigError);
  });

  it('is taken by every Redis setting, and refused with its passwords hidden', () => {
    const url = 'redis+sentinel://:pw@s1:26379,s2:26379/mymaster/2';
    const config = loadConfig({ Z4J_AGENT_REDIS_URLS: `${url}, redis://r/0`, Z4J_CELERY_BROKERS: `${url}?global_keyprefix=app1:`, Z4J_TASKIQ_BROKER_URL: url });
    expect(config.Z4J_AGENT_REDIS_URLS).toEqual([url, 'redis://r/0']); // the list splits before a scheme, not at the sentinels' comma
    expect(config.Z4J_CELERY_BROKERS).toEqual([`${url}?global_keyprefix=app1:`]);
    let message = '';
    try {
      loadConfig({ Z4J_HUEY_REDIS_URL: 'redis+sentinel://:master-pw@s1/m/x?sentinel_password=watch-pw' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/Z4J_HUEY_REDIS_URL=.*the db number only/);
    expect(message).not.toMatch(/master-pw|watch-pw/);
  });

  it('speaks TLS to the master with rediss+sentinel://, to the sentinels too with sentinel_ssl=true', () => {
    const dir = mkdtempSync(join(tmpdir(), 'z4j-sentinel-tls-'));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'contents of ca.pem');
    const { url, tls } = brokerTls(`rediss+sentinel://s1:26379,s2:26379/m/0?ssl_ca_certs=${encodeURIComponent(ca)}&sentinel_ssl=true`);
    expect(url).toBe('rediss+sentinel://s1:26379,s2:26379/m/0?sentinel_ssl=true');
    const options = sentinelOptions(url, tls);
    expect(String((options.tls as { ca: Buffer }).ca)).toBe('contents of ca.pem');
    expect(options.enableTLSForSentinelMode).toBe(true);
    expect(options.sentinelTLS).toBe(options.tls);
    const masterOnly = sentinelOptions('rediss+sentinel://s1/m', undefined); // the system's CAs
    expect([masterOnly.tls, masterOnly.sentinelTLS]).toEqual([{}, undefined]);
    expect(sentinelOptions('redis+sentinel://s1/m?sentinel_ssl=true', undefined).tls).toBeUndefined(); // sentinel_ssl needs rediss+
    expect(() => loadConfig({ Z4J_RQ_REDIS_URL: 'rediss+sentinel://s1/m?ssl_ca_certs=/no/ca' })).toThrow(/ssl_ca_certs=\/no\/ca: no such file/);
  });

  it('is shown to operators without the credentials of the master or the sentinels', () => {
    const url = 'redis+sentinel://app:pw@s1:26379,s2:26379/m/0?sentinel_password=watch&sentinel_username=w';
    expect(brokerLocation(url)).toBe('redis+sentinel://s1:26379,s2:26379/m/0?sentinel_username=w');
    expect(sentinelLocation('redis+sentinel://s1/m')).toBe('redis+sentinel://s1/m');
  });

  it('carries kombu’s options for a Celery broker, and its db for fanout channels', () => {
    const { clientUrl, layout } = splitCeleryRedisUrl('redis+sentinel://s1:26379,s2:26379/m/4?global_keyprefix=app1%3A&sentinel_password=w');
    expect(clientUrl).toBe('redis+sentinel://s1:26379,s2:26379/m/4?sentinel_password=w');
    expect(layout.key('unacked')).toBe('app1:unacked');
    expect([redisDb('redis+sentinel://s1/m/4'), redisDb('redis+sentinel://s1/m'), redisDb('redis://r/2')]).toEqual([4, 0, 2]);
  });
});
