// Dramatiq over its RabbitMQ broker: durable queues `<q>`, `<q>.DQ` (delayed) and `<q>.XQ` (dead
// letters, reached through the queue's x-dead-letter-routing-key), messages plain JSON on the
// default exchange. Purge and requeue act on the queues themselves, a retry publishes a new
// message as Dramatiq's own `enqueue` does; terminate goes through the agent in the worker, its
// command on the worker's own queue (amqpDriver.ts). Cancel too: AMQP cannot delete one message
// from the middle of a queue (only consume everything before it, or purge), so every live
// worker's agent is told the id and skips the message when it comes (SkipMessage in the agent's
// middleware), as Celery's revoke does; a worker that was not running then does not know it.
// Not here, and why: a filtered purge (reading a waiting message means taking it, so a filter
// would have to consume and republish the whole queue, reordering it under live consumers).
import { AmqpEngineDriver } from '../amqpDriver.js';
import { AGENT_CANCEL_NOTE, cancelInWorkers, NoPayload, terminateInWorker, type AgentChannel, type Dispatch, type EngineDriver, type Purged, type Requeued, type RetryPayload, type TaskRef } from '../driver.js';
import { TERMINATE_NOTE } from './driver.js';
import { countRequeue, dramatiqMessage } from './message.js';

export class DramatiqRabbitmqDriver extends AmqpEngineDriver implements EngineDriver {
  readonly engine = 'dramatiq' as const;
  readonly variant = 'RabbitMQ';
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'a new message built from the payload the z4j agent captured (RabbitMQ broker)' },
    'task.cancel': { via: 'agent', note: `RabbitMQ broker, ${AGENT_CANCEL_NOTE}` },
    'task.terminate': { via: 'agent', note: `RabbitMQ broker, ${TERMINATE_NOTE}` },
    'queue.purge': { via: 'broker', note: 'the queue and its delayed queue (RabbitMQ broker); dead letters stay' },
    'queue.requeue_dead_letters': { via: 'broker', note: 'the queue’s XQ, moved back one message at a time (RabbitMQ broker); each runs once more, as the next attempt (the requeue counted in its options for the agent): its retries are spent, so a new failure dead-letters it again' },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-dramatiq-driver');
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original?.queue ?? 'default';
    const message = dramatiqMessage(payload, newTaskId, queue);
    const priority = typeof payload.options?.broker_priority === 'number' ? payload.options.broker_priority : undefined;
    await this.withChannel(async (ch) => {
      await ch.checkQueue(queue); // a message for a queue no worker declared would be dropped unseen
      ch.publish('', queue, Buffer.from(JSON.stringify(message)), { deliveryMode: 2, priority, mandatory: true });
      await ch.waitForConfirms();
    });
    return { detail: { newTaskId, queue } };
  }

  async cancel(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return cancelInWorkers(this.engine, task, agent);
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return terminateInWorker(this.engine, task, agent, 'message');
  }

  async purgeQueue(queue: string): Promise<Purged> {
    const [a, b] = [await this.count(queue, 'purge'), await this.count(`${queue}.DQ`, 'purge')];
    return { purged: a + b };
  }

  /**
   * The queue's XQ, every letter back on the queue (amqpDriver.ts: published before acked), one
   * requeue more counted in its options (countRequeue): the agent reports its rerun as a new attempt.
   */
  async requeueDeadLetters(queue: string): Promise<Requeued> {
    return this.moveDeadLetters(`${queue}.XQ`, queue, () => queue, undefined, countRequeue);
  }

  async queueDepth(queue: string): Promise<number | null> {
    return (await this.count(queue, 'check')) + (await this.count(`${queue}.DQ`, 'check'));
  }
}
