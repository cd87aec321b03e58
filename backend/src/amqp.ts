// Connections to RabbitMQ, for the sources that consume from it and the drivers that act on it.
import type amqp from 'amqplib';
import { brokerTls } from './brokerTls.js';

/**
 * A named connection (shown in RabbitMQ's management as what it is for), with the TLS files its
 * URL names (brokerTls.ts). amqplib is loaded on the first connection: a service that uses no
 * RabbitMQ does not carry it.
 */
export async function connectAmqp(url: string, connectionName: string): Promise<amqp.ChannelModel> {
  const { default: client } = await import('amqplib');
  const { url: plain, tls } = brokerTls(url);
  return client.connect(plain, { ...tls, clientProperties: { connection_name: connectionName } });
}

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
