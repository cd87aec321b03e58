"""Redis found through Sentinel: one URL that names the sentinels and the master's name, read the
same way by the agent and the service.

    redis+sentinel://[[user]:password@]host:26379[,host:26379...]/mymaster[/db][?query]

The user and password are the master's; the sentinels' own, when they ask for one, are
`sentinel_username=` and `sentinel_password=` in the query. `rediss+sentinel://` speaks TLS to
the master, with the TLS arguments of a rediss:// URL (ssl_ca_certs, ssl_certfile, ...), and to
the sentinels too with `sentinel_ssl=true` (redis-py's and ioredis's default is plain to them).

A client made from it asks the sentinels where the master is at each connection, so the agent
follows a failover: a fixed redis:// URL would go on sending to the old master, dead or a
replica then, which refuses writes."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
DEFAULT_PORT = 26379
SENTINEL_ARGUMENTS = ("sentinel_username", "sentinel_password", "sentinel_ssl")
# What a rediss+sentinel:// URL's query may say of TLS: a rediss:// URL's words (redis-py's).
TLS_ARGUMENTS = ("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    tls: dict[str, str] | None = None  # None: no TLS; else the rediss:// query arguments
    sentinel_tls: bool = False  # the sentinels spoken to with TLS too


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SCHEMES)


def parse(url: str) -> SentinelUrl:
    """Raises ValueError saying what is wrong, and the URL's shape."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis+sentinel", "rediss+sentinel"):
        raise ValueError(f"not a redis+sentinel:// URL: {scheme}://")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        hosts, userinfo = netloc, ""
    user, colon, password = userinfo.partition(":")
    sentinels = [_host_port(h) for h in hosts.split(",") if h]
    segments = [s for s in path.split("/") if s]
    if not sentinels or not segments:
        raise ValueError("a redis+sentinel:// URL names its sentinels and the master's name: redis+sentinel://host:26379[,host:26379]/mymaster[/db]")
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError(f"after the master's name, a redis+sentinel:// URL has the db number only, not /{'/'.join(segments[1:])}")
    args = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    own = {k: args.pop(k) for k in SENTINEL_ARGUMENTS if k in args}
    tls = None
    if scheme == "rediss+sentinel":
        tls = {k: args.pop(k) for k in TLS_ARGUMENTS if k in args}
    if args:
        known = ", ".join(SENTINEL_ARGUMENTS + (TLS_ARGUMENTS if tls is not None else ()))
        raise ValueError(f"a {scheme}:// URL takes {known} in its query, not {', '.join(args)}")
    return SentinelUrl(sentinels, urllib.parse.unquote(segments[0]), int(segments[1]) if len(segments) == 2 else 0,
                       urllib.parse.unquote(user) or None, urllib.parse.unquote(password) if colon else None,
                       own.get("sentinel_username"), own.get("sentinel_password"), tls, tls is not None and own.get("sentinel_ssl", "").lower() in ("true", "1", "yes"))


def _host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:26379
        host, _, port = text[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"a redis+sentinel:// URL's sentinels are host:port, not {text!r}")
    return host, int(port) if port else DEFAULT_PORT


def make_url(sentinels: list[tuple[str, int]], service: str, db: int = 0, username: str | None = None, password: str | None = None,
             sentinel_username: str | None = None, sentinel_password: str | None = None, tls: dict[str, str] | None = None, sentinel_tls: bool = False) -> str:
    auth = ""
    if password:
        auth = f"{urllib.parse.quote(username or '', safe='')}:{urllib.parse.quote(password, safe='')}@"
    hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in sentinels)
    query = {k: v for k, v in (("sentinel_username", sentinel_username), ("sentinel_password", sentinel_password)) if v}
    query.update(tls or {})
    if tls is not None and sentinel_tls:
        query["sentinel_ssl"] = "true"
    scheme = "rediss+sentinel" if tls is not None else "redis+sentinel"
    return f"{scheme}://{auth}{hosts}/{urllib.parse.quote(service, safe='')}/{db}" + ("?" + urllib.parse.urlencode(query) if query else "")


def client(url: str, **options: Any) -> Any:
    """A redis-py client of the master `url` names, found again through the sentinels at each
    connection (after a failover, the next one reaches the new master). `options` (timeouts)
    apply to the sentinels and the master alike."""
    from redis.sentinel import Sentinel

    target = parse(url)
    master = dict(options, db=target.db, username=target.username, password=target.password)
    sentinel = dict(options, username=target.sentinel_username, password=target.sentinel_password)
    if target.tls is not None:
        tls = _tls_options(target.tls)
        master.update(tls)
        if target.sentinel_tls:
            sentinel.update(tls)
    return Sentinel(target.sentinels, sentinel_kwargs=sentinel).master_for(target.service, **master)


def _tls_options(query: dict[str, str]) -> dict[str, Any]:
    """A URL's TLS arguments as a client's: typed as redis-py types them when it reads a URL."""
    from redis import connection

    from .transport import cert_reqs_name

    parsers = getattr(connection, "URL_QUERY_ARGUMENT_PARSERS", {})
    options: dict[str, Any] = {"ssl": True}
    for k, v in query.items():
        options[k] = cert_reqs_name(v) if k == "ssl_cert_reqs" else parsers[k](v) if k in parsers else v
    return options


def url_of_pool(pool: Any) -> str:
    """The redis+sentinel:// URL of a redis-py SentinelConnectionPool (sync or asyncio): the
    sentinels it asks, the master's name, db and credentials, and the TLS files it uses."""
    from ._common import is_tls_pool, redis_tls_settings

    manager = pool.sentinel_manager
    kw = pool.connection_kwargs
    sentinels = [(s.connection_pool.connection_kwargs.get("host", "localhost"), s.connection_pool.connection_kwargs.get("port", DEFAULT_PORT)) for s in manager.sentinels]
    first = manager.sentinels[0].connection_pool if manager.sentinels else None
    own = first.connection_kwargs if first is not None else {}
    tls = redis_tls_settings(kw) if is_tls_pool(pool) else None
    return make_url(sentinels, pool.service_name, int(kw.get("db") or 0), kw.get("username"), kw.get("password"),
                    own.get("username"), own.get("password"), tls, first is not None and is_tls_pool(first))
