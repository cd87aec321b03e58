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
