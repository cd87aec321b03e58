// A proxy on a free port of 127.0.0.1 in front of a broker. Plain, it is a node of a cluster in the
// tests of failover lists, whose close is the node going away (its connections cut, its port
// refusing). With TLS options, it is the broker behind TLS (brokerTls.integration.test.ts).
import net from 'node:net';
import tls from 'node:tls';

export interface Proxy {
  port: number;
  close(): Promise<void>;
}

export async function startProxy(upstreamHost: string, upstreamPort: number, tlsOptions?: tls.TlsOptions): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const forward = (client: net.Socket) => {
    const up = net.connect(upstreamPort, upstreamHost);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => sockets.delete(s));
    }
    client.pipe(up).pipe(client);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  };
  const server = tlsOptions ? tls.createServer(tlsOptions, forward).on('tlsClientError', () => undefined) : net.createServer(forward);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
