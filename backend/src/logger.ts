// Structured logs (pino). Secrets never go to logs: callers log ids and counts, not payloads.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

/** Whether pino-pretty can be loaded: a development dependency, absent from production installs (the image). */
function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export function createLogger(level: string, pretty = false): Logger {
  const readable = pretty && prettyInstalled();
  const logger = pino({
    level,
    base: { service: 'z4j' },
    redact: { paths: ['*.password', '*.secret', '*.token'], censor: '[redacted]' },
    ...(readable ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
  if (pretty && !readable) logger.warn('Z4J_PRETTY_LOGS: pino-pretty is not installed (production installs leave it out); logs stay JSON');
  return logger;
}
