// Decoding kombu message envelopes as Celery publishes them. Only JSON bodies are accepted:
// pickle and friends are refused rather than executed.

export class UndecodableMessage extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function parseJsonBody(raw: Buffer | string, contentType: string | undefined): unknown {
  if (contentType && contentType !== 'application/json') throw new UndecodableMessage('unsupported_content_type');
  try {
    return JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    throw new UndecodableMessage('bad_json');
  }
}

/** The still-encoded body of a message kombu's Redis transport published (a JSON envelope, body base64). */
function redisBody(payload: Buffer | string): { body: Buffer | string; contentType: string | undefined } {
  let envelope: { body?: unknown; 'content-type'?: string; properties?: { body_encoding?: string } };
  try {
    envelope = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    throw new UndecodableMessage('bad_envelope');
  }
  if (typeof envelope !== 'object' || envelope === null || typeof envelope.body !== 'string') throw new UndecodableMessage('bad_envelope');
  const body = envelope.properties?.body_encoding === 'base64' ? Buffer.from(envelope.body, 'base64') : envelope.body;
  return { body, contentType: envelope['content-type'] };
}

/** The body of a message kombu's Redis transport published, decoded. */
export function decodeRedisMessage(payload: Buffer | string): unknown {
  const { body, contentType } = redisBody(payload);
  return parseJsonBody(body, contentType);
}

const EVENT_TYPE_KEY = Buffer.from('"type":');

/**
 * How many Celery events a message of kombu's Redis transport carries, without decoding them:
 * the `"type":` keys in its body (one per event; a `task.multi` list has several). For dropping
 * a message cheaply: about a tenth of decoding it. At least 1.
 */
export function countRedisEvents(payload: Buffer): number {
  try {
    const { body: raw } = redisBody(payload);
    const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let n = 0;
    for (let at = body.indexOf(EVENT_TYPE_KEY); at >= 0; at = body.indexOf(EVENT_TYPE_KEY, at + EVENT_TYPE_KEY.length)) n++;
    return Math.max(1, n);
  } catch {
    return 1;
  }
}

/** The body of an AMQP message (content type in the message properties). */
export function decodeAmqpMessage(content: Buffer, contentType: string | undefined): unknown {
  return parseJsonBody(content, contentType);
}

/**
 * Builds a kombu Redis envelope around a body (pidbox broadcasts, task messages): JSON, unless
 * `content` gives it already serialized (a task in the serializer its app uses).
 */
export function encodeRedisMessage(
  body: unknown,
  headers: Record<string, unknown>,
  deliveryInfo: { exchange: string; routing_key: string },
  properties: Record<string, unknown> = {},
  content: { bytes: Buffer; type: string; encoding: string } = { bytes: Buffer.from(JSON.stringify(body)), type: 'application/json', encoding: 'utf-8' },
): string {
  return JSON.stringify({
    body: content.bytes.toString('base64'),
    'content-encoding': content.encoding,
    'content-type': content.type,
    headers,
    properties: {
      priority: 0,
      ...properties,
      delivery_mode: 2,
      delivery_info: deliveryInfo,
      body_encoding: 'base64',
      delivery_tag: crypto.randomUUID(),
    },
  });
}
