// taskiq over taskiq-aio-pika (0.6): task queues bound to the `taskiq` exchange, one AMQP queue
// per z4j queue. A purge is the AMQP purge of that queue.
// Not here, and why: requeue of dead letters (taskiq-aio-pika 0.6.1 declares a DLQ,
// `taskiq.dead_letter`, but taskiq never rejects a message, so only RabbitMQ itself dead-letters
// into it (a quorum queue's delivery limit, a TTL); it is shared by every queue of the broker and
// nobody has written and tested moving its letters back); cancel (AMQP cannot delete one message
// from the middle of a queue); retry and terminate (no AMQP route for them yet); filtered purge
// (reading a waiting message means taking it).
import { AmqpEngineDriver } from '../amqpDriver.js';
import type { Dispatch, EngineDriver } from '../driver.js';

export class TaskiqRabbitmqDriver extends AmqpEngineDriver implements EngineDriver {
  readonly engine = 'taskiq' as const;
  readonly variant = 'RabbitMQ';
  readonly capabilities = {
    'queue.purge': { via: 'broker', note: 'taskiq-aio-pika: the task queue (not the delay queue nor the dead-letter queue)' },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-taskiq-driver');
  }

  async purgeQueue(queue: string): Promise<Dispatch & { purged: number }> {
    return { purged: await this.count(queue, 'purge') };
  }

  async queueDepth(queue: string): Promise<number | null> {
    return this.count(queue, 'check');
  }
}
