// What every Celery event source does with one message body, whatever the transport.
import type { IngestPipeline } from '../../ingest/pipeline.js';
import { CUSTOM_EVENT, eventsOfBody, mapCeleryEvent, type Mapped } from './celeryEvents.js';
import { UndecodableMessage } from './kombu.js';

export interface CeleryTarget {
  pipeline: IngestPipeline;
  project: string;
  source: string;
}

/** Maps a decoded body's events into candidates; refused ones are recorded on the pipeline. */
export function candidatesOf(target: CeleryTarget, decode: () => unknown): Record<string, unknown>[] {
  let body: unknown;
  try {
    body = decode();
  } catch (err) {
    target.pipeline.reject(target.source, err instanceof UndecodableMessage ? err.reason : 'undecodable', String(err));
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const ev of eventsOfBody(body)) {
    let m: Mapped;
    try {
      m = mapCeleryEvent(ev, target.project);
    } catch {
      // A shape no rule foresaw: this event is refused; the message's others and the source carry on.
      m = { ok: false, reason: 'bad_event' };
    }
    if (m.ok) out.push(m.candidate);
    else if (m.reason === CUSTOM_EVENT) target.pipeline.ignore(target.source, m.reason);
    else target.pipeline.reject(target.source, m.reason, ev);
  }
  return out;
}
