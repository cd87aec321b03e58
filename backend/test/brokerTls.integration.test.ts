// z4j's own connections to a Redis and a RabbitMQ behind TLS with a private CA that asks for a
// client certificate, named in the URL as the agent reads it (brokerTls.ts): a TLS proxy (a CA,
// server and client certificates made for the run by openssl) in front of the test brokers.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAmqp } from '../src/amqp.js';
import { newRedis } from '../src/redis.js';
import { makeCertificates } from './helpers/certificates.js';
import { DRAMATIQ_AMQP_URL } from './helpers/dramatiq.js';
import { startProxy, type Proxy } from './helpers/tcpProxy.js';

const REDIS_URL = process.env.Z4J_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A TLS server on a free port that forwards to `upstream` (host:port), a client certificate of the CA required. */
function tlsProxy(dir: string, upstream: URL): Promise<Proxy> {
  const read = (name: string) => readFileSync(join(dir, name));
  return startProxy(upstream.hostname, Number(upstream.port), { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true });
}

describe('broker connections behind TLS with a private CA and client certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'z4j-tls-'));
  makeCertificates(dir);
  const file = (name: string) => join(dir, name);
  let rabbit: Awaited<ReturnType<typeof tlsProxy>>;
  let redis: Awaited<ReturnType<typeof tlsProxy>>;

  beforeAll(async () => {
    rabbit = await tlsProxy(dir, new URL(DRAMATIQ_AMQP_URL));
    redis = await tlsProxy(dir, new URL(REDIS_URL));
  });
  afterAll(async () => {
    await rabbit.close();
    await redis.close();
  });

  const amqpsUrl = (query: Record<string, string>) => `amqps://guest:guest@127.0.0.1:${rabbit.port}/%2F?${new URLSearchParams(query)}`;
  const redissUrl = (query: Record<string, string>) => `rediss://127.0.0.1:${redis.port}${new URL(REDIS_URL).pathname}?${new URLSearchParams(query)}`;

  it('connects to RabbitMQ with the CA and the client certificate the URL names', async () => {
    const conn = await connectAmqp(amqpsUrl({ cafile: file('ca.pem'), certfile: file('client.pem'), keyfile: file('client.key') }), 'z4j-test-tls');
    try {
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true }); // a round trip through the broker
      expect(queue).toMatch(/^amq\.gen-/);
    } finally {
      await conn.close();
    }
  });

  it('refuses the RabbitMQ without the CA, and is refused without the client certificate', async () => {
    await expect(connectAmqp(amqpsUrl({ certfile: file('client.pem'), keyfile: file('client.key') }), 'z4j-test-tls')).rejects.toThrow(/self-signed|unable to verify/);
    await expect(connectAmqp(amqpsUrl({ cafile: file('ca.pem') }), 'z4j-test-tls')).rejects.toThrow();
  });

  it('connects to Redis with the CA and the client certificate the URL names', async () => {
    const client = newRedis(redissUrl({ ssl_ca_certs: file('ca.pem'), ssl_certfile: file('client.pem'), ssl_keyfile: file('client.key') }), { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('refuses the Redis without the CA', async () => {
    const client = newRedis(redissUrl({ ssl_certfile: file('client.pem'), ssl_keyfile: file('client.key') }), { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const errors: string[] = [];
    client.on('error', (err: Error) => errors.push(err.message));
    try {
      await expect(client.connect()).rejects.toThrow();
      expect(errors.join(' | ')).toMatch(/self-signed|unable to verify/);
    } finally {
      client.disconnect();
    }
  });
});
