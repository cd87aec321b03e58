// The TLS files a broker URL names, in the words the agent reads (agent/README.md, "TLS"), so
// that one URL serves the workers' agents and the service: amqps:// takes aio-pika's (cafile,
// certfile, keyfile, no_verify_ssl=1), rediss:// (and rediss+sentinel://) redis-py's
// (ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs=none). Without them a TLS connection
// trusts the system's CAs (and NODE_EXTRA_CA_CERTS) and shows no client certificate.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { brokerUrlQuery } from './redisSentinel.js';

type FileOption = 'ca' | 'cert' | 'key';

const WORDS: Record<string, { files: Record<FileOption, string>; noVerify: (q: URLSearchParams) => boolean; others: string[] }> = {
  amqps: {
    files: { ca: 'cafile', cert: 'certfile', key: 'keyfile' },
    noVerify: (q) => !['', '0', 'false', 'no'].includes((q.get('no_verify_ssl') ?? '0').toLowerCase()),
    others: ['no_verify_ssl'],
  },
  rediss: {
    files: { ca: 'ssl_ca_certs', cert: 'ssl_certfile', key: 'ssl_keyfile' },
    noVerify: (q) => ['none', 'cert_none'].includes((q.get('ssl_cert_reqs') ?? '').toLowerCase()),
    others: ['ssl_cert_reqs', 'ssl_check_hostname'],
  },
};

export interface BrokerTls {
  /** The URL for the client, without the TLS arguments (ioredis would take them for options of its own). */
  url: string;
  /** For tls.connect: the files' contents, and whether the server's certificate is checked. */
  tls?: ConnectionOptions;
}

/**
 * The URL's TLS settings, its files read. Throws, naming the argument, when a file cannot be
 * read. A URL that names none is returned as it is.
 */
export function brokerTls(url: string): BrokerTls {
  const parts = brokerUrlQuery(url);
  const words = parts && WORDS[parts.scheme];
  if (!parts || !words || ![...Object.values(words.files), ...words.others].some((name) => parts.query.has(name))) return { url };
  const { query } = parts;
  const tls: ConnectionOptions = {};
  for (const [option, name] of Object.entries(words.files) as [FileOption, string][]) {
    const path = query.get(name);
    if (path) tls[option] = readTlsFile(name, path);
  }
  if (words.noVerify(query)) tls.rejectUnauthorized = false;
  if (query.get('ssl_check_hostname')?.toLowerCase() === 'false') tls.checkServerIdentity = () => undefined;
  for (const name of [...Object.values(words.files), ...words.others]) query.delete(name);
  return { url: parts.rebuild(), tls };
}

/** What is wrong with the URL's TLS files, or null: for the settings' validation at start. */
export function brokerTlsProblem(url: string): string | null {
  try {
    brokerTls(url);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function readTlsFile(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${name}=${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (err as Error).message}`);
  }
}
