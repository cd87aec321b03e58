// A Redis master, its replica and a Sentinel watching them, each a real redis-server on a free
// port of 127.0.0.1 (data in a temporary directory), for tests of redis+sentinel:// connections
// and of a failover under them. The agent's tests have the same in Python (sentinel_group.py).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { makeCertificates } from './certificates.js';
import { eventually } from './wait.js';

export const SENTINEL_SERVICE = 'z4jmaster';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface SentinelGroup {
  sentinelPort: number;
  /** With `tls`: the CA of the servers' certificates. */
  cafile?: string;
  /** redis+sentinel:// to the group's master, in `db`. */
  url(db?: number): string;
  /** A plain client of whichever server is the master now. */
  master(db?: number): Promise<Redis>;
  /** Stops the master as a crash would, waits for the replica's promotion; the new master's port. */
  failMaster(): Promise<number>;
  /**
   * A failover asked of the sentinel (SENTINEL FAILOVER): the master stays up and is made a replica
   * of the one promoted. Waits for both; the new master's port.
   */
  switchMaster(): Promise<number>;
  stop(): void;
}

/** `tls`: every server (the sentinel too) speaks TLS only, with a certificate of a CA made for the run; clients show none. */
export async function startSentinelGroup(opts: { tls?: boolean } = {}): Promise<SentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'z4j-sentinel-'));
  const [masterPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  const cafile = opts.tls ? join(dir, 'ca.pem') : undefined;
  if (opts.tls) makeCertificates(dir);
  const tlsSettings: [string, string][] = opts.tls
    ? [['tls-cert-file', join(dir, 'server.pem')], ['tls-key-file', join(dir, 'server.key')], ['tls-ca-cert-file', cafile!], ['tls-replication', 'yes'], ['tls-auth-clients', 'no']]
    : [];
  const listen = (port: number) => (opts.tls ? ['--port', '0', '--tls-port', String(port), ...tlsSettings.flatMap(([k, v]) => [`--${k}`, v])] : ['--port', String(port)]);
  const clientTls = cafile ? { tls: { ca: readFileSync(cafile) } } : {};
  const start = (name: string, ...args: string[]) => {
    try {
      execFileSync('redis-server', [...args, '--daemonize', 'yes', '--pidfile', join(dir, `${name}.pid`), '--logfile', join(dir, `${name}.log`)], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(`redis-server (${name}) did not start: ${(err as Error).message}; is it installed? run scripts/setup-system.sh`);
    }
  };
  const server = (port: number, name: string, ...args: string[]) =>
    start(name, ...listen(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `${name}.rdb`, ...args);
  // The replica's first sync at once: diskless, a master waits 5 s by default for more replicas.
  server(masterPort, 'master', '--repl-diskless-sync-delay', '0');
  server(replicaPort, 'replica', '--replicaof', '127.0.0.1', String(masterPort));
  // Down after a second: a failover in the tests takes seconds, not the default 30.
  const sentinelListen = opts.tls ? `port 0\ntls-port ${sentinelPort}\n${tlsSettings.map(([k, v]) => `${k} ${v}\n`).join('')}` : `port ${sentinelPort}\n`;
  writeFileSync(join(dir, 'sentinel.conf'), `${sentinelListen}bind 127.0.0.1\ndir ${dir}\n`
    + `sentinel monitor ${SENTINEL_SERVICE} 127.0.0.1 ${masterPort} 1\n`
    + `sentinel down-after-milliseconds ${SENTINEL_SERVICE} 1000\nsentinel failover-timeout ${SENTINEL_SERVICE} 10000\n`);
  start('sentinel', join(dir, 'sentinel.conf'), '--sentinel');

  const ask = async <T>(...command: [string, ...string[]]): Promise<T> => {
    const sentinel = new Redis(sentinelPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, ...clientTls });
    try {
      return (await sentinel.call(...command)) as T;
    } finally {
      sentinel.disconnect();
    }
  };
  const role = async (port: number): Promise<string> => {
    const server = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, ...clientTls });
    try {
      return ((await server.call('ROLE')) as string[])[0]!;
    } finally {
      server.disconnect();
    }
  };
  const masterPortNow = async () => Number((await ask<string[]>('SENTINEL', 'get-master-addr-by-name', SENTINEL_SERVICE))[1]);
  // A failover needs a replica the sentinel has heard from and whose link to the master is up.
  await eventually(async () => {
    const [replica] = await ask<string[][]>('SENTINEL', 'replicas', SENTINEL_SERVICE);
    const field = (name: string) => replica?.[replica.indexOf(name) + 1];
    if (field('flags') !== 'slave' || field('master-link-status') !== 'ok') throw new Error('the sentinel does not see a good replica yet');
  }, 20_000, 100);

  return {
    sentinelPort,
    url: (db = 0) => `redis+sentinel://127.0.0.1:${sentinelPort}/${SENTINEL_SERVICE}/${db}`,
    cafile,
    master: async (db = 0) => new Redis(await masterPortNow(), '127.0.0.1', { db, ...clientTls }),
    async failMaster() {
      const old = await masterPortNow();
      process.kill(Number(readFileSync(join(dir, old === masterPort ? 'master.pid' : 'replica.pid'), 'utf8')), 'SIGKILL');
      return eventually(async () => {
        const now = await masterPortNow();
        if (now === old || (await role(now)) !== 'master') throw new Error('no failover yet');
        return now;
      }, 30_000, 100);
    },
    async switchMaster() {
      const old = await masterPortNow();
      await ask('SENTINEL', 'FAILOVER', SENTINEL_SERVICE);
      return eventually(async () => {
        const now = await masterPortNow();
        if (now === old || (await role(now)) !== 'master' || (await role(old)) !== 'slave') throw new Error('the switch is not done yet');
        return now;
      }, 60_000, 100);
    },
    stop() {
      for (const name of ['sentinel', 'replica', 'master']) {
        try {
          process.kill(Number(readFileSync(join(dir, `${name}.pid`), 'utf8')), 'SIGKILL');
        } catch {
          // gone already (a failed master)
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
