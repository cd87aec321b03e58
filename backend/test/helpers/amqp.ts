// RabbitMQ for integration tests.
import amqp from 'amqplib';
import { eventually } from './wait.js';

/** Resolves once `queue` exists (its worker declared it): RabbitMQ drops what is sent to a queue nobody declared. */
export async function queueDeclared(url: string, queue: string): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    await eventually(async () => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined); // a missing queue closes the channel
      try {
        await ch.checkQueue(queue);
      } finally {
        await ch.close().catch(() => undefined);
      }
    }, 60_000, 200);
  } finally {
    await conn.close();
  }
}
