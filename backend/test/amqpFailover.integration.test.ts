// A RabbitMQ cluster's nodes given as a failover list (kombu's `;` form): the first node, a proxy
// in front of the test RabbitMQ, goes away while the service consumes the agents' queue through
// it, as a node does in a rolling upgrade. The service goes on to the next node, and the batches
// published after arrive; none is lost.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import amqp from 'amqplib';
import { pino } from 'pino';
import { connectAmqp } from '../src/amqp.js';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { agentKeyEntry, batchOf, lifecycle, testAgent } from './helpers/agentBatches.js';
import { TEST_PROXY_SECRET } from './helpers/auth.js';
import { createTestDatabase } from './helpers/storage.js';
import { startProxy, type Proxy } from './helpers/tcpProxy.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(120_000);

const AMQP_URL = process.env.Z4J_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
const AGENT_QUEUE = `z4j.events.test.${randomUUID().slice(0, 8)}`;

describe('a failover list of RabbitMQ nodes', () => {
  const agent = testAgent();
  let node: Proxy;
  let nodes: string;
  let svc: Service;
  let publisher: amqp.ChannelModel;

  const publish = async (taskId: string) => {
    const ch = await publisher.createConfirmChannel();
    const b = batchOf(agent, lifecycle(agent, 'dramatiq', taskId, 'succeeded', { name: 't', args: [], kwargs: {}, queue: 'q' }));
    ch.sendToQueue(AGENT_QUEUE, b.body, { persistent: true, contentType: 'application/json', headers: { 'z4j-agent': agent.id, 'z4j-sig': b.sig } });
    await ch.waitForConfirms();
    await ch.close();
  };
  const stored = (taskId: string) => eventually(async () => {
    const row = (await svc.db.query<{ state: string }>('SELECT state FROM tasks WHERE task_id = $1', [taskId])).rows[0];
    if (row?.state !== 'succeeded') throw new Error(`task ${taskId} is ${row?.state ?? 'not stored'}`);
  }, 60_000, 200);

  beforeAll(async () => {
    const rabbit = new URL(AMQP_URL);
    node = await startProxy(rabbit.hostname, Number(rabbit.port || 5672));
    const first = new URL(AMQP_URL);
    first.port = String(node.port);
    nodes = `${first.toString()};${AMQP_URL}`;
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('amqp_failover'),
      Z4J_AGENT_AMQP_URLS: [nodes], Z4J_AGENT_AMQP_QUEUE: AGENT_QUEUE, Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_CELERY_BROKERS: [],
      Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
    publisher = await amqp.connect(AMQP_URL);
  });

  afterAll(async () => {
    await svc?.stop();
    const ch = await publisher?.createChannel();
    await ch?.deleteQueue(AGENT_QUEUE);
    await publisher?.close();
    await node?.close();
  });

  test('the service consumes through the first node, then, that node gone, through the next', async () => {
    const [before, after] = [randomUUID(), randomUUID()];
    await publish(before);
    await stored(before);
    expect(svc.sources[0]!.status().broker).toBe(nodes.replaceAll('guest:guest@', ''));
    await node.close();
    await publish(after);
    await stored(after);
  });

  test('a connection tries the nodes in turn, from the one that took the last', async () => {
    const conn = await connectAmqp(`amqp://guest:guest@127.0.0.1:1//;${AMQP_URL}`, 'z4j test');
    await conn.close();
    await expect(connectAmqp('amqp://guest:guest@127.0.0.1:1//;amqp://guest:guest@127.0.0.1:2//', 'z4j test')).rejects.toThrow(/ECONNREFUSED 127.0.0.1:2/);
  });
});
