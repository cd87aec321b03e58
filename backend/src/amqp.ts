// Connections to RabbitMQ, for the sources that consume from it and the drivers that act on it.
import type amqp from 'amqplib';

/**
 * A named connection (shown in RabbitMQ's management as what it is for). amqplib is loaded on
 * the first connection: a service that uses no RabbitMQ does not carry it.
 */
export async function connectAmqp(url: string, connectionName: string): Promise<amqp.ChannelModel> {
  const { default: client } = await import('amqplib');
  return client.connect(url, { clientProperties: { connection_name: connectionName } });
}
