// What the Celery driver needs from a broker connection. The Celery sources implement it on
// the connections they already hold, so acting on Celery opens nothing new.
import type { CeleryTaskMessage } from '../../engines/celery/taskMessage.js';
import type { Purged } from '../../engines/driver.js';
import type { MatchCount, PurgeFilter } from '../../engines/filteredPurge.js';
import type { PidboxReply } from './pidbox.js';

export interface CeleryBroker {
  readonly name: string;
  broadcast(method: string, args?: Record<string, unknown>, destination?: string[] | null): Promise<void>;
  /**
   * Sends a control request to the destination workers (null: every worker) and collects their
   * replies (`{hostname: reply}` each) until every `awaited` worker answered (by default the
   * destination) or `timeoutMs` passed, as `celery control --destination` does.
   */
  request(method: string, args: Record<string, unknown>, destination: string[] | null, timeoutMs: number, awaited?: string[]): Promise<PidboxReply[]>;
  queueDepth(queue: string): Promise<number | null>;
  publishTask(queue: string, message: CeleryTaskMessage): Promise<void>;
  /** Removes every waiting message of the queue; returns how many there were, and their task ids where it can read them. */
  purgeQueue(queue: string): Promise<Purged>;
  /** Where the broker lets z4j read waiting messages (Redis; AMQP cannot without consuming them). */
  countMatching?(queue: string, filter: PurgeFilter): Promise<MatchCount>;
  purgeMatching?(queue: string, filter: PurgeFilter): Promise<Purged>;
}
