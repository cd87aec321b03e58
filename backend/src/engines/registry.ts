// Every engine driver's declarations, without connecting anything: what the README's matrix,
// the `z4j capabilities` command and the coverage test read.
import { ENGINES } from '../ingest/envelope.js';
import { ArqDriver } from './arq/driver.js';
import { CeleryDriver } from './celery/driver.js';
import { DramatiqDriver } from './dramatiq/driver.js';
import { DramatiqRabbitmqDriver } from './dramatiq/rabbitmqDriver.js';
import { HueyDriver } from './huey/driver.js';
import { RqDriver } from './rq/driver.js';
import { TaskiqDriver } from './taskiq/driver.js';
import { TaskiqRabbitmqDriver } from './taskiq/rabbitmqDriver.js';
import type { EngineDriver } from './driver.js';

type Declared = Pick<EngineDriver, 'engine' | 'variant' | 'capabilities'>;

/**
 * One entry per engine and broker variant, in the usual order; an engine without a driver can do
 * nothing (yet). Nothing connects: ioredis and the AMQP drivers connect lazily.
 */
export function declaredDrivers(): Declared[] {
  const drivers: Declared[] = [new CeleryDriver([]), new RqDriver('redis://127.0.0.1:6379/0'), new DramatiqDriver('redis://127.0.0.1:6379/0'), new DramatiqRabbitmqDriver('amqp://127.0.0.1'), new HueyDriver('redis://127.0.0.1:6379/0'), new ArqDriver('redis://127.0.0.1:6379/0'), new TaskiqDriver('redis://127.0.0.1:6379/0'), new TaskiqRabbitmqDriver('amqp://127.0.0.1')];
  return ENGINES.flatMap((engine) => {
    const mine = drivers.filter((d) => d.engine === engine);
    return mine.length ? mine : [{ engine, capabilities: {} }];
  });
}

/** The taskiq driver for a broker URL: taskiq-aio-pika for amqp(s)://, else taskiq-redis's ListQueueBroker. */
export function taskiqDriver(url: string, deadLetterQueue?: string): EngineDriver {
  return /^amqps?:\/\//.test(url) ? new TaskiqRabbitmqDriver(url, deadLetterQueue) : new TaskiqDriver(url);
}

/** The Dramatiq driver for a broker URL: RabbitMQ for amqp(s)://, else Redis (its keys under `namespace`). */
export function dramatiqDriver(url: string, namespace = 'dramatiq'): EngineDriver {
  return /^amqps?:\/\//.test(url) ? new DramatiqRabbitmqDriver(url) : new DramatiqDriver(url, namespace);
}
