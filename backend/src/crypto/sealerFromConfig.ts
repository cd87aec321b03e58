// The service's Sealer: keys from Z4J_SEAL_KEYS, or one key generated once into the data
// directory, so `npm start` works with nothing configured and a restart still opens old values.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { createFileOnce } from '../dataDir.js';
import type { Logger } from '../logger.js';
import { parseSealKeys, Sealer } from './seal.js';

export function sealerFromConfig(config: Config, log: Logger): Sealer {
  const keys = parseSealKeys(config.Z4J_SEAL_KEYS);
  if (keys) return new Sealer(keys);
  const file = join(config.Z4J_DATA_DIR, 'seal.key');
  // Never over a key another process just wrote: losing it would orphan every sealed value.
  if (createFileOnce(file, `1:${randomBytes(32).toString('base64')}\n`)) {
    log.warn({ file }, 'generated a seal key; back it up (or set Z4J_SEAL_KEYS): without it sealed retry payloads and agent secrets cannot be opened');
  }
  if (config.DATABASE_URL) log.warn('Z4J_SEAL_KEYS is not set: using the key file in Z4J_DATA_DIR; replicas of the service must share it');
  return new Sealer(parseSealKeys(readFileSync(file, 'utf8'))!);
}
