// Celery remote-control broadcasts (pidbox), as `celery control <method>` sends them; with a
// ticket and reply_to when the caller waits for the workers' replies.

export interface PidboxRequest {
  method: string;
  arguments: Record<string, unknown>;
  destination: string[] | null;
  pattern: string | null;
  matcher: string | null;
}

export function broadcastBody(method: string, args: Record<string, unknown> = {}, destination: string[] | null = null): PidboxRequest {
  return { method, arguments: args, destination, pattern: null, matcher: null };
}

/** Where workers send replies: kombu's direct exchange `reply.<control exchange>.pidbox`. */
export const replyExchange = (controlExchange: string) => `reply.${controlExchange}.pidbox`;

/**
 * A request the workers answer (kombu Mailbox._publish with a reply ticket): each replies
 * `{hostname: reply}` on `reply_to`, its message headers carrying the ticket. The ticket is also
 * the routing key, so each request has a reply queue of its own.
 */
export function requestBody(method: string, args: Record<string, unknown>, destination: string[] | null, ticket: string, controlExchange: string): PidboxRequest & { ticket: string; reply_to: { exchange: string; routing_key: string } } {
  return { ...broadcastBody(method, args, destination), ticket, reply_to: { exchange: replyExchange(controlExchange), routing_key: ticket } };
}

/** A worker's reply: `{ok: …}` or `{error: …}` (Celery's control handlers), keyed by its hostname. */
export type PidboxReply = Record<string, unknown>;

/** Whether every one of `awaited` (hostnames) is among the replies. */
export const allAnswered = (replies: PidboxReply[], awaited: string[]) => awaited.every((h) => replies.some((r) => h in r));

let clock = 0;
/**
 * A control message's headers: a Lamport clock (the worker adjusts its own) and an expiry (epoch
 * seconds). Only a reply collector checks `expires` (kombu's Mailbox._collect); a worker acts on
 * a request whenever it reads it (kombu 5.7's Node.handle_message), so on AMQP what bounds a
 * request's life is the pidbox queue's message TTL.
 */
export function broadcastHeaders(ttlSeconds: number): Record<string, unknown> {
  return { clock: ++clock, expires: Date.now() / 1000 + ttlSeconds };
}
