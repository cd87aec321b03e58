// Structured logs (pino). Secrets never go to logs: callers log ids and counts, not payloads.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, pretty = false): Logger {
  return pino({
    level,
    base: { service: 'z4j' },
    redact: { paths: ['*.password', '*.secret', '*.token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
