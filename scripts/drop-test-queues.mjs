// Deletes the RabbitMQ queues that earlier test runs left on the project's broker, as
// `services.sh drop-test-dbs` does for their databases. Tests name their queues with a random
// 8-hex-digit id (z4jq_1fc6eece, z4j.events.035dd831, z4j_agent_dq_05cba61f.DQ, ...), so each
// run declares new ones; left alone they pile up, and a broker with more durable queues than
// file handles stalls when it boots. Only such names are touched, and only while unused: a
// classic queue with a consumer (another test run's) is refused by the broker and left alone.
// A quorum queue (taskiq-aio-pika declares its queues so) cannot be deleted "if unused":
// RabbitMQ answers NOT_IMPLEMENTED and closes the connection. Those listed with no consumer are
// deleted outright.
//   node scripts/drop-test-queues.mjs
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../backend/package.json', import.meta.url));
const amqp = require('amqplib');

const TEST_QUEUE = /^z4j[._a-z]*?[._]?[0-9a-f]{8}([._]|$)/;
const port = process.env.Z4J_RABBIT_PORT ?? '5672';
const node = process.env.Z4J_RABBIT_NODE ?? 'rabbit@localhost';

function listQueues() {
  const out = execFileSync('rabbitmqctl', ['-s', '-n', node, 'list_queues', 'name', 'consumers', 'type'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return out.split('\n').map((line) => line.split('\t')).filter(([name]) => name);
}

const unused = listQueues().filter(([name, consumers]) => TEST_QUEUE.test(name) && consumers === '0');
const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
let dropped = 0;
for (const [name, , type] of unused) {
  // A refused delete (the queue got a consumer meanwhile) closes the channel; use one per queue.
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  try {
    await channel.deleteQueue(name, { ifUnused: type === 'classic' });
    dropped += 1;
    await channel.close();
  } catch {
    // in use by now: left alone
  }
}
await connection.close();
console.log(`rabbitmq: dropped ${dropped} test queues left by earlier runs`);
