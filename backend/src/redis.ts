// Connections to Redis, for the sources that read from it and the drivers that act on it.
import { Redis, type RedisOptions } from 'ioredis';
import { brokerTls } from './brokerTls.js';

/** A client for `url`, with the TLS files its query names (brokerTls.ts). */
export function newRedis(url: string, options: RedisOptions): Redis {
  const { url: plain, tls } = brokerTls(url);
  return new Redis(plain, tls ? { ...options, tls } : options);
}
