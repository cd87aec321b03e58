// Dramatiq's message as its brokers carry it (dramatiq.Message.encode: JSON).
import type { RetryPayload } from '../driver.js';

/** A new message for a retry, as `Actor.send` builds it; it runs now (no eta). */
export function dramatiqMessage(payload: RetryPayload, messageId: string, queue: string, extraOptions: Record<string, unknown> = {}): Record<string, unknown> {
  const options: Record<string, unknown> = { ...(payload.options ?? {}), ...extraOptions };
  delete options.eta;
  return { queue_name: queue, actor_name: payload.name, args: payload.args, kwargs: payload.kwargs, options, message_id: messageId, message_timestamp: Date.now() };
}
