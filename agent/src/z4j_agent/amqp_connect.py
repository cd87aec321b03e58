"""How the agent reaches RabbitMQ with each client a worker may have (pika, aio-pika, py-amqp):
one URL, read the same way by all three, TLS included.

TLS settings travel in the URL's query, in the words aio-pika (aiormq) reads itself:

    amqps://user:pass@host:5671/vhost?cafile=/etc/ca.pem&certfile=/etc/me.pem&keyfile=/etc/me.key

and `no_verify_ssl=1` to skip the server's certificate check. pika would refuse those
arguments (it knows its own only) and py-amqp takes no URL, so both get them as a TLS context
or options here. A worker whose TLS is an SSLContext object (Dramatiq's pika parameters,
taskiq-aio-pika's `ssl_context=`) cannot say it in a URL: the engine module shares that very
context for the URL it made (`share_context`), and the agent's connections use it."""

from __future__ import annotations

import os
import ssl
import urllib.parse
from typing import Any

TLS_ARGUMENTS = ("cafile", "certfile", "keyfile", "no_verify_ssl")

# URL → the worker's own TLS context for it, and the name it checks. No lock (a dict's get and
# set are atomic): the sender thread reads it, and a lock it held as an RQ work horse forks
# would stay held in the horse forever.
_shared: dict[str, tuple[ssl.SSLContext, str | None]] = {}


def normal_url(url: str) -> str:
    """`pyamqp://` (Celery's name for py-amqp) read as `amqp://`, and kombu's default vhost `//`
    as `/` (pika reads `//` as the empty vhost)."""
    url = url.replace("pyamqp://", "amqp://", 1)
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/%2F")) if parts.path == "//" else url


def share_context(url: str, context: Any, server_hostname: str | None = None) -> None:
    """The worker connects to `url` with `context` (an ssl.SSLContext), checking the server's
    certificate for `server_hostname` (None: the URL's host): the agent's connections to it do
    too. Kept for the process's life; a worker has one or two brokers."""
    if isinstance(context, ssl.SSLContext):
        _shared[normal_url(url)] = (context, server_hostname)


def _shared_for(url: str) -> tuple[ssl.SSLContext, str | None] | None:
    return _shared.get(normal_url(url))


def tls_arguments(url: str) -> dict[str, str]:
    """The URL's TLS arguments (the last of each, as a query is read)."""
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
    return {k: v for k, v in query if k in TLS_ARGUMENTS}


def without_tls_arguments(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    rest = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in TLS_ARGUMENTS]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))


def readable_tls_files(url: str) -> dict[str, str]:
    """The URL's TLS arguments, once its files are known to be readable: a missing file is said
    by its argument's name (a TLS error from deep in a client would name none)."""
    tls = tls_arguments(url)
    for name in ("cafile", "certfile", "keyfile"):
        if tls.get(name) and not os.access(tls[name], os.R_OK):
            raise ValueError(f"the broker URL's {name}={tls[name]}: no such readable file")
    return tls


def verifies(tls: dict[str, str]) -> bool:
    return tls.get("no_verify_ssl", "0").lower() in ("", "0", "false", "no")


def ssl_context(url: str) -> ssl.SSLContext | None:
    """The TLS context for an `amqps://` URL (None for `amqp://`): the worker's own when its
    engine shared one, else one made of the URL's arguments (the system's CAs unless `cafile`)."""
    url = normal_url(url)
    if urllib.parse.urlsplit(url).scheme != "amqps":
        return None
    shared = _shared_for(url)
    if shared is not None:
        return shared[0]
    tls = readable_tls_files(url)
    try:
        context = ssl.create_default_context(cafile=tls.get("cafile") or None)
        if tls.get("certfile"):
            context.load_cert_chain(tls["certfile"], tls.get("keyfile") or None)
    except ssl.SSLError as err:  # a file that is no PEM, a key that is not the certificate's
        raise ValueError(f"the broker URL's TLS files ({', '.join(f'{k}={v}' for k, v in tls.items())}): {err}") from None
    if not verifies(tls):
        context.check_hostname = False  # before verify_mode: CERT_NONE is refused while it is on
        context.verify_mode = ssl.CERT_NONE
    return context


def pika_parameters(url: str) -> Any:
    """pika's connection parameters for `url` (3 s socket timeout). Its TLS is the shared
    context or the one the URL's arguments make; without either, pika's own reading of an
    `amqps://` URL stands (the system's CAs, or its `ssl_options` argument)."""
    import pika

    url = normal_url(url)
    params = pika.URLParameters(without_tls_arguments(url))
    shared = _shared_for(url)
    if params.ssl_options is not None and (shared or tls_arguments(url)):  # amqps://, TLS said
        params.ssl_options = pika.SSLOptions(ssl_context(url), server_hostname=shared[1] if shared else None)
    params.socket_timeout = 3
    return params


def aio_pika_options(url: str) -> dict[str, Any]:
    """aio-pika's connect() arguments besides the URL: the TLS context (aiormq would make the
    same of the URL's arguments; a shared one it cannot know)."""
    context = ssl_context(url)
    return {"ssl_context": context} if context is not None else {}


def py_amqp_options(url: str) -> dict[str, Any]:
    """py-amqp's connection arguments for an `amqp://` or `amqps://` URL, read as kombu reads it:
    the path is the virtual host, unquoted, and an empty one (or kombu's `//`) is `/`. py-amqp
    takes TLS as wrap_socket options, not a context: a shared context is not used here (the
    engines that share one, Dramatiq and taskiq, have pika or aio-pika)."""
    parts = urllib.parse.urlsplit(normal_url(url))
    secure = parts.scheme == "amqps"
    host = parts.hostname or "localhost"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return {"host": f"{host}:{parts.port or (5671 if secure else 5672)}", "userid": urllib.parse.unquote(parts.username or "guest"),
            "password": urllib.parse.unquote(parts.password or "guest"), "virtual_host": vhost, "ssl": _py_amqp_ssl(url) if secure else False}


def _py_amqp_ssl(url: str) -> dict[str, Any]:
    tls = readable_tls_files(url)
    options: dict[str, Any] = {theirs: tls[ours] for ours, theirs in (("cafile", "ca_certs"), ("certfile", "certfile"), ("keyfile", "keyfile")) if tls.get(ours)}
    if not verifies(tls):
        return {**options, "cert_reqs": ssl.CERT_NONE}  # and no server_hostname: py-amqp then checks no name
    return {**options, "cert_reqs": ssl.CERT_REQUIRED, "server_hostname": urllib.parse.urlsplit(url).hostname}
