// Redis found through Sentinel, in the URL the agent reads too (agent/README.md, "Redis through
// Sentinel"), so one URL serves the workers' agents and the service:
//
//   redis+sentinel://[[user]:password@]host:26379[,host:26379...]/mymaster[/db][?query]
//
// The user and password are the master's; sentinel_username and sentinel_password the sentinels'
// own. rediss+sentinel:// speaks TLS to the master (a rediss:// URL's TLS arguments, brokerTls.ts),
// and to the sentinels too with sentinel_ssl=true. ioredis asks the sentinels where the master is at
// each connection, so the service follows a failover: a master that dies closes its connections, and
// one the sentinels demote has them closed by the sentinels (CLIENT KILL as they reconfigure it).
import type { RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';

const DEFAULT_PORT = 26379;
const SENTINEL_ARGUMENTS = ['sentinel_username', 'sentinel_password', 'sentinel_ssl'];

export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  name: string;
  db: number;
  username?: string;
  password?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** TLS to the master (rediss+sentinel://), and to the sentinels too. */
  tls: boolean;
  sentinelTls: boolean;
}

export function isSentinelUrl(url: string): boolean {
  return /^rediss?\+sentinel:\/\//.test(url);
}

/**
 * The URL before its query, and its query: a WHATWG URL cannot hold a list of hosts, so code that
 * reads or rewrites a broker URL's query (TLS files, kombu's options) splits a sentinel URL so.
 */
export function splitQuery(url: string): { base: string; query: URLSearchParams } {
  const at = url.indexOf('?');
  return at < 0 ? { base: url, query: new URLSearchParams() } : { base: url.slice(0, at), query: new URLSearchParams(url.slice(at + 1)) };
}

export function joinQuery(base: string, query: URLSearchParams): string {
  const text = query.toString();
  return text ? `${base}?${text}` : base;
}

/**
 * A broker URL's scheme (rediss+sentinel:// read as rediss://, whose TLS words it takes), its
 * query, and the URL again with that query as it is then; null if it is no URL.
 */
export function brokerUrlQuery(url: string): { scheme: string; query: URLSearchParams; rebuild: () => string } | null {
  if (isSentinelUrl(url)) {
    const { base, query } = splitQuery(url);
    return { scheme: url.slice(0, url.indexOf('+')), query, rebuild: () => joinQuery(base, query) };
  }
  if (!URL.canParse(url)) return null;
  const u = new URL(url);
  return { scheme: u.protocol.slice(0, -1), query: u.searchParams, rebuild: () => u.toString() };
}

/**
 * Throws an Error saying what is wrong, and the URL's shape. Its query may hold the sentinels' own
 * settings only: the TLS files are taken out before (brokerTls.ts), and kombu's options of a
 * Celery broker URL (redisLayout.ts).
 */
export function parseSentinelUrl(url: string): SentinelTarget {
  const scheme = url.slice(0, url.indexOf('://'));
  const { base, query } = splitQuery(url.slice(scheme.length + 3));
  const slash = base.indexOf('/');
  const netloc = slash < 0 ? base : base.slice(0, slash);
  const segments = (slash < 0 ? '' : base.slice(slash)).split('/').filter(Boolean);
  const at = netloc.lastIndexOf('@');
  const userinfo = at < 0 ? '' : netloc.slice(0, at);
  const sentinels = (at < 0 ? netloc : netloc.slice(at + 1)).split(',').filter(Boolean).map(hostPort);
  if (!sentinels.length || !segments.length) {
    throw new Error("a redis+sentinel:// URL names its sentinels and the master's name: redis+sentinel://host:26379[,host:26379]/mymaster[/db]");
  }
  if (segments.length > 2 || (segments.length === 2 && !/^\d+$/.test(segments[1]!))) {
    throw new Error(`after the master's name, a redis+sentinel:// URL has the db number only, not /${segments.slice(1).join('/')}`);
  }
  const unknown = [...query.keys()].filter((k) => !SENTINEL_ARGUMENTS.includes(k));
  if (unknown.length) throw new Error(`a ${scheme}:// URL takes ${SENTINEL_ARGUMENTS.join(', ')} in its query, not ${unknown.join(', ')}`);
  const colon = userinfo.indexOf(':');
  const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const tls = scheme === 'rediss+sentinel';
  return {
    sentinels,
    name: decodeURIComponent(segments[0]!),
    db: segments.length === 2 ? Number(segments[1]) : 0,
    username: user || undefined,
    password: colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1)),
    sentinelUsername: query.get('sentinel_username') ?? undefined,
    sentinelPassword: query.get('sentinel_password') ?? undefined,
    tls,
    sentinelTls: tls && ['true', '1', 'yes'].includes((query.get('sentinel_ssl') ?? '').toLowerCase()),
  };
}

function hostPort(text: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(text); // [::1]:26379
  const plain = /^([^:[\]]+)(?::(\d*))?$/.exec(text);
  const m = bracketed ?? plain;
  if (!m || m[2] === '') throw new Error(`a redis+sentinel:// URL's sentinels are host:port, not '${text}'`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : DEFAULT_PORT };
}

/** ioredis's options for the master `url` names (its TLS files already read into `tls`). */
export function sentinelOptions(url: string, tls: ConnectionOptions | undefined): RedisOptions {
  const t = parseSentinelUrl(url);
  const secure = t.tls ? (tls ?? {}) : undefined;
  return {
    sentinels: t.sentinels,
    name: t.name,
    db: t.db,
    username: t.username,
    password: t.password,
    sentinelUsername: t.sentinelUsername,
    sentinelPassword: t.sentinelPassword,
    ...(secure ? { tls: secure, enableTLSForSentinelMode: true } : {}),
    ...(t.sentinelTls ? { sentinelTLS: secure } : {}),
  };
}

/** A sentinel URL as operators may read it: without the master's and the sentinels' credentials. */
export function sentinelLocation(url: string): string {
  const { base, query } = splitQuery(url);
  query.delete('sentinel_password');
  return joinQuery(base.replace(/^([^:]+:\/\/)[^@/]*@/, '$1'), query);
}
