// Celery remote-control broadcasts (pidbox), as `celery control <method>` sends them.

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

let clock = 0;
/** Headers a worker checks: a Lamport clock and an expiry (epoch seconds) after which it ignores the request. */
export function broadcastHeaders(ttlSeconds: number): Record<string, unknown> {
  return { clock: ++clock, expires: Date.now() / 1000 + ttlSeconds };
}
