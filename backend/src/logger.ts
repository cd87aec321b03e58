// Structured logs (pino). Secrets never go to logs: callers log ids and counts, not payloads,
// and an error's text (a driver's can quote a broker URL with its password) is scrubbed.
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { scrub } from './redact/redact.js';

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

/**
 * The `err` of a log line (callers pass an Error or its text) with its secrets hidden, as the
 * API's stored errors are: an Error keeps its type and stack (stacks go to the log only).
 */
function scrubbedErr(err: unknown): unknown {
  if (err instanceof Error) {
    const e = pino.stdSerializers.err(err);
    return { ...e, message: scrub(e.message), stack: scrub(e.stack) };
  }
  return typeof err === 'string' ? scrub(err) : err;
}

export function createLogger(level: string, pretty = false, destination?: DestinationStream): Logger {
  const readable = pretty && prettyInstalled() && !destination;
  const options = {
    level,
    base: { service: 'z4j' },
    redact: { paths: ['*.password', '*.secret', '*.token'], censor: '[redacted]' },
    serializers: { err: scrubbedErr },
    ...(readable ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  const logger = destination ? pino(options, destination) : pino(options);
  if (pretty && !readable) logger.warn('Z4J_PRETTY_LOGS: pino-pretty is not installed (production installs leave it out); logs stay JSON');
  return logger;
}
