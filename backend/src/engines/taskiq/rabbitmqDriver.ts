// taskiq over taskiq-aio-pika (0.6): task queues bound to the `taskiq` exchange, one AMQP queue
// per z4j queue. A purge is the AMQP purge of that queue.
// Dead letters: taskiq-aio-pika declares every task queue with a dead-letter route to one queue,
// `taskiq.dead_letter` unless its `dead_letter_queue` says otherwise (Z4J_TASKIQ_DEAD_LETTER_QUEUE), shared by all of them. taskiq itself never rejects a message (its acks
// only ack), so what lands there is what RabbitMQ dead-letters: a message past a quorum queue's
// delivery limit (redelivered that many times because its worker died running it; RabbitMQ 4
// sets 20 by default, 3.x none), one past a message TTL or a length limit the user set. A
// requeue moves back the letters that died in the queue asked for, and leaves the others.
// Not here, and why: filtered purge (reading a waiting message means taking it).
// Terminate goes through the agent in the worker, its command on the worker's own queue
// (amqpDriver.ts). Cancel too, to every live worker (AMQP cannot delete one message from the
// middle of a queue): each agent skips the message as it comes out of the broker, before
// taskiq's receiver sees it; a worker that was not running then does not know it.
// Retry publishes taskiq's own message to the task queue through the default exchange, with the
// headers taskiq-aio-pika's kick() sets (task_id, task_name, labels): whatever exchange and
// routing the broker was set up with, the queue a worker consumes gets it.
import { AmqpEngineDriver, diedIn } from '../amqpDriver.js';
import { AGENT_CANCEL_NOTE, cancelInWorkers, NoPayload, terminateInWorker, type AgentChannel, type Dispatch, type EngineDriver, type Purged, type Requeued, type RetryPayload, type TaskRef } from '../driver.js';
import { DEFAULT_QUEUE, taskiqMessage, TERMINATE_NOTE } from './driver.js';

const noQueue = (queue: string, deadLetterQueue?: string) => new Error(queue === deadLetterQueue
  ? `RabbitMQ has no queue ${queue}: set Z4J_TASKIQ_DEAD_LETTER_QUEUE to your AioPikaBroker's dead_letter_queue name`
  : `RabbitMQ has no queue ${queue}: no taskiq worker has declared it`);

export class TaskiqRabbitmqDriver extends AmqpEngineDriver implements EngineDriver {
  readonly engine = 'taskiq' as const;
  readonly variant = 'RabbitMQ';
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'a new message built from the payload the z4j agent captured (taskiq-aio-pika), on the queue a worker has declared' },
    'task.cancel': { via: 'agent', note: `taskiq-aio-pika: ${AGENT_CANCEL_NOTE}; checked as the message leaves the broker: a message taskiq's receiver already holds (waiting for a runner or a --max-prefetch slot; before taskiq 0.12.5 the next one while every runner is busy) runs, and its cancel fails saying so` },
    'task.terminate': { via: 'agent', note: `taskiq-aio-pika: ${TERMINATE_NOTE}` },
    'queue.purge': { via: 'broker', note: 'taskiq-aio-pika: the task queue (not the delay queue nor the dead-letter queue)' },
    'queue.requeue_dead_letters': { via: 'broker', note: "taskiq-aio-pika: the queue's letters in the broker's dead-letter queue (taskiq.dead_letter, or Z4J_TASKIQ_DEAD_LETTER_QUEUE), moved back one at a time; RabbitMQ put them there (a quorum queue's delivery limit, a TTL or length limit), taskiq never rejects" },
  } as const;

  /** `deadLetterQueue`: the AioPikaBroker's `dead_letter_queue` name. */
  constructor(url: string, private readonly deadLetterQueue = 'taskiq.dead_letter') {
    super(url, 'z4j-taskiq-driver');
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const queue = payload.queue ?? original?.queue ?? DEFAULT_QUEUE;
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

  async cancel(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return cancelInWorkers(this.engine, task, agent);
  }

  async terminate(task: TaskRef, agent?: AgentChannel): Promise<Dispatch> {
    return terminateInWorker(this.engine, task, agent);
  }

  /** A queue RabbitMQ does not have is said, never purged as "0": the name is wrong, not the queue empty. */
  async purgeQueue(queue: string): Promise<Purged> {
    return { purged: await this.count(queue, 'purge', () => noQueue(queue)) };
  }

  /** Only the letters that died in `queue` go back to it (amqpDriver.ts: published before acked). */
  async requeueDeadLetters(queue: string): Promise<Requeued> {
    return this.moveDeadLetters(this.deadLetterQueue, queue, (letter) => (diedIn(letter) === queue ? queue : null), (q) => noQueue(q, this.deadLetterQueue));
  }

  /** Unknown (null) for a queue RabbitMQ does not have. */
  async queueDepth(queue: string): Promise<number | null> {
    return this.count(queue, 'check', () => noQueue(queue)).catch(() => null);
  }
}
