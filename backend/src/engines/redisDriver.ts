// What the drivers of engines that live in Redis share: one lazily connected client, closed with the service.
import { Redis } from 'ioredis';

/** Empties a Redis list atomically and says how many items it held (Huey and taskiq queues are plain lists). */
export const PURGE_LIST = `
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n`;

export abstract class RedisEngineDriver {
  protected readonly redis: Redis;

  constructor(url: string, connectionName: string) {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectionName });
    this.redis.on('error', () => undefined); // surfaced by the command that fails
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
