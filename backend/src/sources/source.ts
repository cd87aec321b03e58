import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { scrub } from '../redact/redact.js';
import { failoverUrls } from '../amqp.js';
import { isSentinelUrl, sentinelLocation } from '../redisSentinel.js';
// A source turns one engine's wire format into envelopes for the pipeline. Celery events
// over Redis or AMQP, agent streams, HTTP ingest: each is one module implementing this.

export interface SourceStatus {
  /** Its kind and position (celery-redis-1): what metrics and logs call it. */
  name: string;
  /** Where it reads: the broker's URL without user and password (GET /api/readyz, server admins only). */
  broker: string;
  connected: boolean;
  lastError: string | null;
  lastMessageAt: number | null;
}

export interface Source {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}

/** What every source reports about itself: connection, last error, last message, as status and metrics. */
export class SourceHealth {
  private state: SourceStatus;

  constructor(
    readonly name: string,
    url: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.state = { name, broker: brokerLocation(url), connected: false, lastError: null, lastMessageAt: null };
  }

  connected(connected: boolean): void {
    this.state.connected = connected;
    this.metrics.sourceConnected.set({ source: this.name }, connected ? 1 : 0);
  }

  error(err: unknown): void {
    // Shown by /api/readyz (server admins) and logged: scrubbed (a client's error can quote its URL with the password).
    this.state.lastError = scrub(String((err as Error)?.message ?? err)) as string;
    this.metrics.sourceErrors.inc({ source: this.name });
    this.log.warn({ source: this.name, err: this.state.lastError }, 'source error');
  }

  message(): void {
    this.state.lastMessageAt = Date.now();
  }

  status(): SourceStatus {
    return { ...this.state };
  }
}

/** Kinds of source, as their names begin. */
export type SourceKind = 'celery-redis' | 'celery-amqp' | 'agent-redis' | 'agent-amqp';

/**
 * Names the sources of one kind by their position among that kind's URLs in the configuration
 * (celery-redis-1, celery-redis-2): the same names at every start of the same configuration, and
 * nothing of the broker's host, port or user, since /metrics (whose labels they are) may be read by
 * anyone who reaches it. The service logs each name with its broker once, at start.
 */
export function nameSources(urls: readonly string[], kindOf: (url: string) => SourceKind): { url: string; name: string }[] {
  const counts = new Map<SourceKind, number>();
  return urls.map((url) => {
    const kind = kindOf(url);
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    return { url, name: `${kind}-${n}` };
  });
}

/**
 * A broker URL as operators may read it: without user and password (its query names kombu options
 * and TLS files, no secrets; a sentinel URL's sentinel_password goes too), each node of a failover list so.
 */
export function brokerLocation(url: string): string {
  const nodes = failoverUrls(url);
  if (nodes.length > 1) return nodes.map(brokerLocation).join(';');
  if (isSentinelUrl(url)) return sentinelLocation(url);
  if (!URL.canParse(url)) return '(not a URL)';
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}
