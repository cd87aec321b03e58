// Celery, acted on over its open wire: revokes as pidbox broadcasts, worker control as pidbox
// requests the worker answers, retries as protocol-2 task messages, purges on the queue itself.
// Everything Celery's own `celery control` / `celery purge` can do, nothing it cannot.
import { CommandEnded } from '../../actions/commands.js';
import type { WorkerAction } from '../capabilities.js';
import { allPurged, NoPayload, type Dispatch, type EngineDriver, type Purged, type RetryPayload, type TaskRef } from '../driver.js';
import type { CeleryBroker } from '../../sources/celery/broker.js';
import { celeryTaskMessage, unsupportedSerializer } from './taskMessage.js';
import type { MatchCount, PurgeFilter } from '../filteredPurge.js';

/** Worker actions → the pidbox method and how our arguments become Celery's. */
const WORKER_METHODS: Record<WorkerAction, { method: string; args: (a: Record<string, unknown>) => Record<string, unknown> }> = {
  pool_grow: { method: 'pool_grow', args: (a) => ({ n: a.n ?? 1 }) },
  pool_shrink: { method: 'pool_shrink', args: (a) => ({ n: a.n ?? 1 }) },
  autoscale: { method: 'autoscale', args: (a) => ({ max: a.max, min: a.min }) },
  rate_limit: { method: 'rate_limit', args: (a) => ({ task_name: a.taskName, rate_limit: a.rateLimit }) },
  time_limit: { method: 'time_limit', args: (a) => ({ task_name: a.taskName, hard: a.hard ?? null, soft: a.soft ?? null }) },
  add_consumer: { method: 'add_consumer', args: (a) => ({ queue: a.queue }) },
  cancel_consumer: { method: 'cancel_consumer', args: (a) => ({ queue: a.queue }) },
  shutdown: { method: 'shutdown', args: () => ({}) },
};

/** How long a terminate waits for the answer of the worker running the task (`celery control` waits 1 s). */
const TERMINATE_ANSWER_MS = 2000;

export class CeleryDriver implements EngineDriver {
  readonly engine = 'celery' as const;
  readonly capabilities = {
    'task.retry': { via: 'broker', note: 'needs the retry payload, which the z4j agent captures when the task is sent or received' },
    'task.cancel': { via: 'broker', note: 'a revoke: workers online now discard the task; a worker started later forgets it unless it runs with --statedb' },
    'task.terminate': { via: 'broker', note: "revoke with terminate: SIGTERM to the process running it (prefork pool), or its greenlet killed (eventlet; gevent from Celery 5.5); the threads pool cannot stop a task (the command fails saying so); and a solo worker reads control messages only between tasks (the command settles when the task ended)" },
    'queue.purge': { via: 'broker' },
    'queue.purge_filtered': { via: 'broker', note: 'Redis broker only (AMQP cannot read waiting messages without taking them); by task name, protocol 2 messages' },
    'worker.pool_grow': { via: 'broker', note: 'prefork, gevent and eventlet pools (solo and threads have a fixed size)' },
    'worker.pool_shrink': { via: 'broker', note: 'prefork, gevent and eventlet pools (solo and threads have a fixed size)' },
    'worker.autoscale': { via: 'broker', note: 'workers started with --autoscale' },
    'worker.rate_limit': { via: 'broker' },
    'worker.time_limit': { via: 'broker' },
    'worker.add_consumer': { via: 'broker' },
    'worker.cancel_consumer': { via: 'broker' },
    'worker.shutdown': { via: 'broker', note: 'Celery sends no reply to a shutdown: confirmed when the worker, which answered a ping first, stops answering' },
  } as const;

  constructor(
    private readonly brokers: readonly CeleryBroker[],
    private readonly origin = 'z4j',
    /** How long a worker has to answer a control request (`celery control` waits 1 s). */
    private readonly replyTimeoutMs = 5000,
  ) {}

  get notConfigured(): string | undefined {
    return this.brokers.length ? undefined : 'no Celery broker is configured (Z4J_CELERY_BROKERS)';
  }

  /** Retries go to the first broker: with several, a queue's tasks are on the one its workers use (the first, by convention). */
  private get primary(): CeleryBroker {
    const b = this.brokers[0];
    if (!b) throw new Error('no Celery broker is configured (Z4J_CELERY_BROKERS)');
    return b;
  }

  async retry(payload: RetryPayload | null, newTaskId: string, original: TaskRef | null): Promise<Dispatch> {
    if (!payload) throw new NoPayload();
    const unsupported = unsupportedSerializer(payload);
    if (unsupported) throw new CommandEnded('failed', unsupported);
    const queue = payload.queue ?? original?.queue ?? 'celery';
    await this.primary.publishTask(queue, celeryTaskMessage(payload, newTaskId, this.origin));
    return { detail: { newTaskId, queue } };
  }

  async cancel(task: TaskRef): Promise<Dispatch> {
    await this.everywhere('revoke', { task_id: task.taskId, terminate: false });
    return {};
  }

  /**
   * A revoke with terminate, sent to every worker (each remembers the task as revoked), with the
   * answer of the worker that runs it awaited briefly: Celery's threads pool cannot stop a task
   * and answers so (NotImplementedError), which fails the command at once and says why, rather
   * than leaving it dispatched while the runaway goes on. No answer (a worker too busy to read
   * its control messages, or gone) keeps it dispatched, settled as any by what the task does next.
   */
  async terminate(task: TaskRef): Promise<Dispatch> {
    const args = { task_id: task.taskId, terminate: true, signal: 'SIGTERM' };
    if (!task.worker) {
      await this.everywhere('revoke', args);
      return {};
    }
    const worker = task.worker;
    const reply = await this.everywhereAnswered(worker, 'revoke', args, TERMINATE_ANSWER_MS);
    if (reply === undefined) {
      return { detail: { worker, reply: null, message: `${worker} did not answer within ${TERMINATE_ANSWER_MS / 1000} s (busy, or gone): the task is revoked, and this settles on what it does next` } };
    }
    if (reply && typeof reply === 'object' && 'ok' in reply) return { detail: { worker, reply: (reply as { ok: unknown }).ok } };
    const error = reply && typeof reply === 'object' && 'error' in reply ? (reply as { error: unknown }).error : reply;
    const text = typeof error === 'string' ? error : JSON.stringify(error);
    throw new CommandEnded('failed', /kill_job|NotImplementedError/.test(text)
      ? `${worker} cannot terminate a running task: its pool cannot stop one (Celery's threads pool, and gevent's before Celery 5.5; prefork and eventlet can), so the task runs to its end. It is revoked there, so a redelivery of it will not run; only a cold shutdown of the worker stops it now`
      : `${worker} refused: ${text}`, { worker, error });
  }

  async purgeQueue(queue: string): Promise<Purged> {
    return allPurged(await Promise.all(this.brokers.map((b) => b.purgeQueue(queue))));
  }

  /** Every broker must be able to filter: a purge that silently skipped the AMQP one would lie. */
  private readable(): (CeleryBroker & Required<Pick<CeleryBroker, 'countMatching' | 'purgeMatching'>>)[] {
    if (!this.brokers.length) throw new Error('no Celery broker is configured (Z4J_CELERY_BROKERS)');
    const unreadable = this.brokers.filter((b) => !b.countMatching || !b.purgeMatching);
    if (unreadable.length) throw new Error(`a filtered purge needs every Celery broker to be Redis (${unreadable.map((b) => b.name).join(', ')} cannot be read without consuming)`);
    return this.brokers as (CeleryBroker & Required<Pick<CeleryBroker, 'countMatching' | 'purgeMatching'>>)[];
  }

  async countMatching(queue: string, filter: PurgeFilter): Promise<MatchCount> {
    const counts = await Promise.all(this.readable().map((b) => b.countMatching(queue, filter)));
    return counts.reduce((a, c) => ({ matched: a.matched + c.matched, scanned: a.scanned + c.scanned, complete: a.complete && c.complete, unreadable: a.unreadable + c.unreadable }), { matched: 0, scanned: 0, complete: true, unreadable: 0 });
  }

  async purgeMatching(queue: string, filter: PurgeFilter): Promise<Purged> {
    return allPurged(await Promise.all(this.readable().map((b) => b.purgeMatching(queue, filter))));
  }

  async queueDepth(queue: string): Promise<number | null> {
    const depths = (await Promise.all(this.brokers.map((b) => b.queueDepth(queue).catch(() => null)))).filter((d): d is number => d !== null);
    return depths.length ? depths.reduce((a, b) => a + b, 0) : null;
  }

  /**
   * Asks the worker and records what it answered: `{ok: "pool will grow"}` succeeds with that
   * text, `{error: …}` fails with it, silence times out. Shutdown is the exception: Celery exits
   * without replying (WorkerShutdown is a SystemExit, raised before kombu replies), so the worker
   * must answer a ping first and stop answering after the shutdown.
   */
  async workerControl(hostname: string, action: WorkerAction, args: Record<string, unknown>): Promise<Dispatch> {
    if (action === 'shutdown') return this.shutdown(hostname);
    const { method, args: toCelery } = WORKER_METHODS[action];
    const broker = await this.brokerOf(hostname);
    const reply = broker ? await this.ask(broker, hostname, method, toCelery(args), this.replyTimeoutMs) : undefined;
    if (reply == null) throw new CommandEnded('timed_out', `${hostname} did not answer within ${this.replyTimeoutMs / 1000} s`, { worker: hostname });
    if (reply && typeof reply === 'object' && 'ok' in reply) return { detail: { worker: hostname, reply: (reply as { ok: unknown }).ok } };
    const error = reply && typeof reply === 'object' && 'error' in reply ? (reply as { error: unknown }).error : reply;
    const text = typeof error === 'string' ? error : JSON.stringify(error);
    // Celery's solo and threads pools have no grow / shrink: it answers with the AttributeError.
    const why = /has no attribute '(grow|shrink)'/.test(text) ? `its pool has a fixed size (Celery's solo and threads pools; prefork, gevent and eventlet can grow and shrink): ${text}` : text;
    throw new CommandEnded('failed', `${hostname} refused: ${why}`, { worker: hostname, error });
  }

  private async shutdown(hostname: string): Promise<Dispatch> {
    const broker = await this.brokerOf(hostname, { ping: true });
    if (!broker) {
      throw new CommandEnded('timed_out', `${hostname} did not answer a ping within ${this.replyTimeoutMs / 1000} s: shutdown not sent`, { worker: hostname });
    }
    await broker.broadcast('shutdown', {}, [hostname]);
    // A warm shutdown closes the control channel first; running tasks may then still finish.
    const deadline = Date.now() + 2 * this.replyTimeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      if ((await this.ask(broker, hostname, 'ping', {}, 1000)) === undefined) return { detail: { worker: hostname, reply: null, message: 'the worker stopped answering (Celery sends no reply to a shutdown)' } };
    }
    throw new CommandEnded('timed_out', `${hostname} still answers pings ${(2 * this.replyTimeoutMs) / 1000} s after the shutdown`, { worker: hostname });
  }

  /** The worker's reply on this broker; undefined when it did not answer in time. */
  private async ask(broker: CeleryBroker, hostname: string, method: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    return (await broker.request(method, args, [hostname], timeoutMs)).find((r) => hostname in r)?.[hostname];
  }

  /**
   * The one broker the worker listens on; null when none heard it in time. A pidbox request
   * names workers by hostname only, and two Celery apps on two brokers can each run a worker
   * of that name: sent everywhere, one pool_shrink or shutdown would act on both. So with several
   * brokers the worker is pinged on each first, and a name answering on two is refused. With
   * one, only when `ping` asks for the worker to have answered.
   */
  private async brokerOf(hostname: string, { ping = false } = {}): Promise<CeleryBroker | null> {
    if (!this.brokers.length || (this.brokers.length === 1 && !ping)) return this.primary;
    const answered: CeleryBroker[] = [];
    let failure: unknown = null;
    await new Promise<void>((resolve) => {
      let pending = this.brokers.length;
      let grace: NodeJS.Timeout | undefined;
      const settle = () => { if (--pending === 0) { clearTimeout(grace); resolve(); } };
      for (const b of this.brokers) {
        this.ask(b, hostname, 'ping', {}, this.replyTimeoutMs).then((reply) => {
          if (reply !== undefined) {
            answered.push(b);
            // A namesake on another broker answers as fast: once one did, the others get a moment, not the whole timeout.
            grace ??= setTimeout(resolve, Math.min(1000, this.replyTimeoutMs));
          }
          settle();
        }, (err) => { failure ??= err; settle(); });
      }
    });
    if (answered.length > 1) {
      throw new CommandEnded('failed', `workers named ${hostname} answer on ${answered.length} brokers (${answered.map((b) => b.name).join(', ')}): z4j cannot tell which one is meant, so it acts on neither (give each a distinct name with -n)`, { worker: hostname });
    }
    if (!answered.length && failure) throw failure;
    return answered[0] ?? null;
  }

  /**
   * A broadcast on every broker that collects `hostname`'s answer: resolved with it as soon as
   * it comes, or undefined when it did not come within `timeoutMs`.
   */
  private everywhereAnswered(hostname: string, method: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (!this.brokers.length) throw new Error('no Celery broker is configured (Z4J_CELERY_BROKERS)');
    return new Promise((resolve, reject) => {
      let pending = this.brokers.length;
      let failure: unknown = null;
      for (const b of this.brokers) {
        b.request(method, args, null, timeoutMs, [hostname]).then((replies) => {
          const reply = replies.find((r) => hostname in r);
          if (reply) resolve(reply[hostname]);
        }, (err) => { failure ??= err; }).finally(() => {
          if (--pending === 0) return failure ? reject(failure) : resolve(undefined);
        });
      }
    });
  }

  /** A broadcast reaches workers only on their own broker: send it on every one. */
  private async everywhere(method: string, args: Record<string, unknown>): Promise<void> {
    if (!this.brokers.length) throw new Error('no Celery broker is configured (Z4J_CELERY_BROKERS)');
    await Promise.all(this.brokers.map((b) => b.broadcast(method, args, null)));
  }
}
