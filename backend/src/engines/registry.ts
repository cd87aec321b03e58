// Every engine driver's declarations, without connecting anything: what the README's matrix,
// the `z4j capabilities` command and the coverage test read.
import { ENGINES } from '../ingest/envelope.js';
import { ArqDriver } from './arq/driver.js';
import { CeleryDriver } from './celery/driver.js';
import { DramatiqDriver } from './dramatiq/driver.js';
import { HueyDriver } from './huey/driver.js';
import { RqDriver } from './rq/driver.js';
import { TaskiqDriver } from './taskiq/driver.js';
import type { EngineDriver } from './driver.js';

/** One entry per engine, in the usual order; an engine without a driver can do nothing (yet). Nothing connects: ioredis connects lazily. */
export function declaredDrivers(): Pick<EngineDriver, 'engine' | 'capabilities'>[] {
  const drivers: Pick<EngineDriver, 'engine' | 'capabilities'>[] = [new CeleryDriver([]), new RqDriver('redis://127.0.0.1:6379/0'), new DramatiqDriver('redis://127.0.0.1:6379/0'), new HueyDriver('redis://127.0.0.1:6379/0'), new ArqDriver('redis://127.0.0.1:6379/0'), new TaskiqDriver('redis://127.0.0.1:6379/0')];
  return ENGINES.map((engine) => drivers.find((d) => d.engine === engine) ?? { engine, capabilities: {} });
}
