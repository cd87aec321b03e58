// Connections to RabbitMQ, for the sources that consume from it and the drivers that act on it.
import type amqp from 'amqplib';
import { brokerTls } from './brokerTls.js';

/** The nodes of a failover list, in kombu's form (`amqp://node-1//;amqp://node-2//`); one URL is a list of one. */
export function failoverUrls(url: string): string[] {
  return url.split(';').map((u) => u.trim()).filter(Boolean);
}

// A failover list → the node that took the last connection, tried first at the next.
const lastGoodNode = new Map<string, number>();

/**
 * A named connection (shown in RabbitMQ's management as what it is for), with the TLS files its
 * URL names (brokerTls.ts). A failover list (a RabbitMQ cluster's nodes) is tried node by node,
 * from the one that took the last connection; the error is the last node's. amqplib is loaded on
 * the first connection: a service that uses no RabbitMQ does not carry it.
 */
export async function connectAmqp(url: string, connectionName: string): Promise<amqp.ChannelModel> {
  const { default: client } = await import('amqplib');
  const nodes = failoverUrls(url);
  const first = lastGoodNode.get(url) ?? 0;
  let failure: unknown;
  for (let i = 0; i < nodes.length; i++) {
    const n = (first + i) % nodes.length;
    const { url: plain, tls } = brokerTls(nodes[n]!);
    try {
      const conn = await client.connect(plain, { ...tls, timeout: CONNECT_TIMEOUT_MS, clientProperties: { connection_name: connectionName } });
      lastGoodNode.set(url, n);
      return conn;
    } catch (err) {
      failure = err;
    }
  }
  throw failure;
}

// How long a node may take to accept the connection before the next is tried (a node that is
// gone, not refusing, would otherwise hold the list up for the OS's TCP timeout).
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Makes sure a durable queue z4j owns exists: created bounded to `maxBytes` (RabbitMQ's
 * x-max-length-bytes, the oldest messages dropped first; 0: no bound) when missing, used as it
 * is when it exists. RabbitMQ refuses a declaration whose arguments differ from the queue's
 * (closing the channel), so an existing queue — an earlier z4j's, or made with another bound,
 * by a replica or an agent — is only checked, on a channel of its own; a RabbitMQ policy changes
 * its bound. The bound keeps a z4j that stopped reading for good from filling the broker the
 * user's task queues share.
 */
export async function ensureOwnQueue(conn: amqp.ChannelModel, ch: amqp.Channel, queue: string, maxBytes: number): Promise<void> {
  const probe = await conn.createChannel();
  probe.on('error', () => undefined); // a missing queue closes it: that is the answer
  const exists = await probe.checkQueue(queue).then(() => true, () => false);
  await probe.close().catch(() => undefined);
  if (exists) return;
  await ch.assertQueue(queue, { durable: true, autoDelete: false, arguments: maxBytes ? { 'x-max-length-bytes': maxBytes } : undefined });
}
