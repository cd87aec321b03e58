// Connections to Redis, for the sources that read from it and the drivers that act on it.
import { Redis, type RedisOptions } from 'ioredis';
import { brokerTls } from './brokerTls.js';
import { isSentinelUrl, sentinelOptions } from './redisSentinel.js';

/**
 * A client for `url`, with the TLS files its query names (brokerTls.ts); of the master a
 * redis+sentinel:// URL names, found again through its sentinels after a failover (redisSentinel.ts).
 */
export function newRedis(url: string, options: RedisOptions): Redis {
  const { url: plain, tls } = brokerTls(url);
  if (isSentinelUrl(plain)) return new Redis({ ...options, ...sentinelOptions(plain, tls) });
  return new Redis(plain, tls ? { ...options, tls } : options);
}
