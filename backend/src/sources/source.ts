import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { scrub } from '../redact/redact.js';
// A source turns one engine's wire format into envelopes for the pipeline. Celery events
// over Redis or AMQP, agent streams, HTTP ingest: each is one module implementing this.

export interface SourceStatus {
  name: string;
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
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.state = { name, connected: false, lastError: null, lastMessageAt: null };
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
