// taskiq over taskiq-aio-pika (0.6): task queues bound to the `taskiq` exchange, one AMQP queue
// per z4j queue. A purge is the AMQP purge of that queue.
// Not here, and why: requeue of dead letters (taskiq-aio-pika 0.6.1 declares a DLQ,
// `taskiq.dead_letter`, but taskiq never rejects a message, so only RabbitMQ itself dead-letters
// into it (a quorum queue's delivery limit, a TTL); it is shared by every queue of the broker and
// nobody has written and tested moving its letters back); cancel (AMQP cannot delete one message
// from the middle of a queue); filtered purge (reading a waiting message means taking it).
// Terminate goes through the agent in the worker, its command on the worker's own queue
// (amqpDriver.ts).
// Retry publishes taskiq's own message to the task queue through the default exchange, with the
// headers taskiq-aio-pika's kick() sets (task_id, task_name, labels): whatever exchange and
// routing the broker was set up with, the queue a worker consumes gets it.
import { AmqpEngineDriver } from '../amqpDriver.js';
import { NoPayload, terminateInWorker, type AgentChannel, type Dispatch, type EngineDriver, type RetryPayload, type TaskRef } from '../driver.js';
import { DEFAULT_QUEUE, taskiqMessage, TERMINATE_NOTE } from './driver.js';

export class TaskiqRabbitmqDriver extends AmqpEngineDriver implements EngineDriver {
  readonly engine = 'taskiq' as const;
  readonly variant = 'RabbitMQ';
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'a new message built from the payload the z4j agent captured (taskiq-aio-pika), on the queue a worker has declared' },
    'task.terminate': { via: 'agent', note: `taskiq-aio-pika: ${TERMINATE_NOTE}` },
    'queue.purge': { via: 'broker', note: 'taskiq-aio-pika: the task queue (not the delay queue nor the dead-letter queue)' },
  } as const;

  constructor(url: string) {
    super(url, 'z4j-taskiq-driver');
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original.queue ?? DEFAULT_QUEUE;
    const message = taskiqMessage(payload, newTaskId);
    await this.withChannel(async (ch) => {
      // A queue no worker has declared would drop the message silently: refuse instead.
      await ch.checkQueue(queue).catch(() => {
        throw new Error(`RabbitMQ has no queue ${queue}: start a taskiq worker for it, then retry`);
      });
      const headers = { task_id: newTaskId, task_name: payload.name, ...message.labels };
      ch.sendToQueue(queue, Buffer.from(JSON.stringify(message)), { persistent: true, headers, contentType: 'application/json' });
      await ch.waitForConfirms();
    });
    return { detail: { newTaskId, queue } };
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return terminateInWorker(this.engine, task, agent);
  }

  async purgeQueue(queue: string): Promise<Dispatch & { purged: number }> {
    return { purged: await this.count(queue, 'purge') };
  }

  async queueDepth(queue: string): Promise<number | null> {
    return this.count(queue, 'check');
  }
}
