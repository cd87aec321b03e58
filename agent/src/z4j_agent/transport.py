"""Where signed batches go: a Redis Stream, a durable RabbitMQ queue, or the service's HTTP
ingest. Clients are imported lazily, so a Redis-only install never imports an AMQP library."""

from __future__ import annotations

import importlib
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from .amqp_connect import aio_pika_options, normal_url, pika_parameters, py_amqp_options

SENDER_THREAD = "z4j-sender"  # the name of the agent's sender thread, the one thread that sends

# After a failed send (or command read) the agent's threads wait 0.5 s before trying again,
# doubling up to this. Short, because it is also how long they may go on taking the broker for
# down once it is back: delivery resumes within it, and an RQ work horse forked meanwhile (it
# trusts its parent's down_since, and does not wait on a broker said to be down) loses its job's
# events. One connection attempt per 5 s costs nothing while the broker is really down.
RETRY_MAX_S = 5.0


# The URLs the agent reaches Redis by (redis_from_url).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://")


def failover_urls(broker_url: str) -> list[str]:
    """The URLs of a broker URL that is a failover list, in kombu's form (`;` between the nodes
    of a RabbitMQ cluster, in the order to try: `amqp://node-1//;amqp://node-2//`); one URL is a
    list of one. The agent sends to one at a time, and goes on to the next when a send fails."""
    return [u.strip() for u in broker_url.split(";") if u.strip()] or [""]


def next_backoff(backoff: float) -> float:
    return min(backoff * 2, RETRY_MAX_S)


class Transport(Protocol):
    def send(self, body: bytes, sig: str, events: int = 1) -> None:
        """Delivers one signed batch of `events` events (or raises)."""

    def close(self) -> None: ...


class RedisStreamTransport:
    """`max_events`: what the stream may hold while nobody reads it (the service down), in
    events. Redis's MAXLEN counts entries and an entry is a whole batch (up to 1,000 events, 1 MiB),
    so each XADD trims to as many entries as hold `max_events` of its own batch's size: a bound
    in entries alone would let a stopped service fill the broker with that many *batches*."""

    def __init__(self, url: str, agent_id: str, project: str, max_events: int) -> None:
        self._client = redis_from_url(url, socket_timeout=3, socket_connect_timeout=3)
        self._stream = f"z4j:events:{project}"
        self._agent = agent_id
        self._max_events = max_events

    def send(self, body: bytes, sig: str, events: int = 1) -> None:
        entries = max(1, self._max_events // max(1, events))
        self._client.xadd(self._stream, {"agent": self._agent, "sig": sig, "batch": body}, maxlen=entries, approximate=True)

    def close(self) -> None:
        self._client.close()


def redis_from_url(url: str, **options: Any) -> Any:
    """A client of the worker's own Redis library for a URL. `ssl_cert_reqs` may be written as
    Celery's documentation writes it (CERT_REQUIRED), which redis-py refuses as it connects."""
    import redis

    from . import redis_sentinel

    if redis_sentinel.is_sentinel_url(url):
        return redis_sentinel.client(url, **options)
    parts = urllib.parse.urlsplit(url)
    if "ssl_cert_reqs=" in parts.query:
        query = [(k, cert_reqs_name(v) if k == "ssl_cert_reqs" else v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    return redis.Redis.from_url(url, **options)


def cert_reqs_name(value: Any) -> str:
    """ssl_cert_reqs as redis-py reads it in a URL (none, optional, required), from an
    ssl.VerifyMode or a CERT_* name."""
    if isinstance(value, int):  # ssl.CERT_NONE as a plain 0
        import ssl

        value = ssl.VerifyMode(value)
    name = str(getattr(value, "name", value)).lower()
    return name[5:] if name.startswith("cert_") else name


def own_queue_arguments(max_bytes: int) -> dict[str, int] | None:
    """The arguments of the events queue when an agent creates it, as the service creates it:
    bounded in bytes (x-max-length-bytes, the oldest batches go first), so a z4j that stopped
    reading for good never fills the broker the worker's own queues share. 0: no bound. A queue
    that exists is used as it is (RabbitMQ refuses a declaration with other arguments)."""
    return {"x-max-length-bytes": max_bytes} if max_bytes else None


class _AmqpPublisher:
    """What the RabbitMQ transports share. The batch goes to the events queue through the default
    exchange, persistent, confirmed by the broker, and mandatory: a queue deleted under the open
    channel (by hand, or a node reset while the service is down) would otherwise take every batch
    silently, as the broker confirms what it drops. Returned, the batch raises and is kept; a
    failed send drops the connection, and the next one checks the queue (a passive declare: one
    that exists is used as it is, since RabbitMQ refuses a declaration with other arguments) or
    declares it, durable and bounded."""

    def __init__(self, agent_id: str, queue: str, max_bytes: int) -> None:
        self._agent = agent_id
        self._queue = queue
        self._max_bytes = max_bytes
        self._conn: Any = None
        self._ch: Any = None

    def send(self, body: bytes, sig: str, events: int = 1) -> None:
        try:
            self._publish(body, sig)
        except Exception:
            self._disconnect()
            raise

    def _publish(self, body: bytes, sig: str) -> None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._disconnect()


class AmqpTransport(_AmqpPublisher):
    """RabbitMQ through pika (Dramatiq's RabbitmqBroker)."""

    def __init__(self, url: str, agent_id: str, queue: str, max_bytes: int = 0) -> None:
        import pika

        super().__init__(agent_id, queue, max_bytes)
        self._pika = pika
        self._params = pika_parameters(url)

    def _channel(self):
        if self._ch is None or self._ch.is_closed:
            self._conn = self._pika.BlockingConnection(self._params)
            self._ch = self._conn.channel()
            try:
                self._ch.queue_declare(self._queue, passive=True)
            except self._pika.exceptions.ChannelClosedByBroker:  # missing (and the channel closed)
                self._ch = self._conn.channel()
                self._ch.queue_declare(self._queue, durable=True, arguments=own_queue_arguments(self._max_bytes))
            self._ch.confirm_delivery()
        return self._ch

    def _publish(self, body: bytes, sig: str) -> None:
        props = self._pika.BasicProperties(content_type="application/json", delivery_mode=2, headers={"z4j-agent": self._agent, "z4j-sig": sig})
        self._channel().basic_publish("", self._queue, body, props, mandatory=True)  # returned: UnroutableError

    def _disconnect(self) -> None:
        conn, self._conn, self._ch = self._conn, None, None
        try:
            if conn is not None and conn.is_open:
                conn.close()
        except Exception:
            pass


class AioPikaTransport(_AmqpPublisher):
    """RabbitMQ through aio-pika, for workers that have it and not pika (taskiq-aio-pika): the
    sender thread runs its own event loop, never the host's."""

    def __init__(self, url: str, agent_id: str, queue: str, max_bytes: int = 0) -> None:
        import asyncio

        import aio_pika

        super().__init__(agent_id, queue, max_bytes)
        _quiet_our_connect_errors()
        self._aio_pika = aio_pika
        self._loop = asyncio.new_event_loop()
        self._url = normal_url(url)
        self._tls = aio_pika_options(url)
        self._published = 0

    async def _channel(self):
        if self._ch is None or self._ch.is_closed:
            self._conn = await self._aio_pika.connect(self._url, timeout=3, **self._tls)
            # on_return_raises: a returned batch raises PublishError, instead of being confirmed.
            self._ch = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
            try:
                await self._ch.declare_queue(self._queue, passive=True)
            except self._aio_pika.exceptions.ChannelNotFoundEntity:  # missing (and the channel closed)
                self._ch = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
                await self._ch.declare_queue(self._queue, durable=True, arguments=own_queue_arguments(self._max_bytes))
        return self._ch

    def _publish(self, body: bytes, sig: str) -> None:
        async def publish() -> None:
            ch = await self._channel()
            # A message_id: aiormq matches a returned message to its publish by it (without one the
            # return is only logged, and the publish confirmed).
            self._published += 1
            msg = self._aio_pika.Message(body, content_type="application/json", delivery_mode=self._aio_pika.DeliveryMode.PERSISTENT,
                                         headers={"z4j-agent": self._agent, "z4j-sig": sig}, message_id=f"{self._agent}:{self._published}")
            await ch.default_exchange.publish(msg, routing_key=self._queue, mandatory=True, timeout=5)

        self._loop.run_until_complete(publish())

    def _disconnect(self) -> None:
        conn, self._conn, self._ch = self._conn, None, None
        try:
            if conn is not None and not self._loop.is_running() and not self._loop.is_closed():
                self._loop.run_until_complete(conn.close())
        except Exception:
            pass

    def close(self) -> None:
        """Also closes its event loop (its selector and self-pipe are file descriptors: the sender
        makes a new transport after each failed send, and must not leave them to the GC)."""
        self._disconnect()
        try:
            if not self._loop.is_running() and not self._loop.is_closed():
                self._loop.close()
        except Exception:
            pass


class PyAmqpTransport(_AmqpPublisher):
    """RabbitMQ through py-amqp, Celery's own client (kombu's `amqp://` transport), for workers
    that have neither pika nor aio-pika: a Celery worker on RabbitMQ."""

    def __init__(self, url: str, agent_id: str, queue: str, max_bytes: int = 0) -> None:
        import amqp

        super().__init__(agent_id, queue, max_bytes)
        self._amqp = amqp
        self._options = py_amqp_options(url)

    def _channel(self):
        if self._ch is None or not self._ch.is_open:
            self._disconnect()
            # confirm_publish: each publish waits for the broker's ack (a nack raises MessageNacked).
            self._conn = self._amqp.Connection(**self._options, connect_timeout=3, read_timeout=3, write_timeout=3, confirm_publish=True)
            self._conn.connect()
            ch = self._conn.channel()
            try:
                ch.queue_declare(self._queue, passive=True)
            except self._amqp.exceptions.NotFound:  # missing (and the channel closed)
                ch = self._conn.channel()
                # py-amqp's defaults are a transient, auto-deleted queue: said explicitly.
                ch.queue_declare(self._queue, durable=True, auto_delete=False, arguments=own_queue_arguments(self._max_bytes))
            self._ch = ch
        return self._ch

    def _publish(self, body: bytes, sig: str) -> None:
        msg = self._amqp.Message(body, content_type="application/json", delivery_mode=2, application_headers={"z4j-agent": self._agent, "z4j-sig": sig})
        # With no basic_return handler of the channel's, a returned batch raises a ChannelError
        # while the publish waits for its confirm.
        self._channel().basic_publish(msg, exchange="", routing_key=self._queue, mandatory=True, confirm_timeout=5)

    def _disconnect(self) -> None:
        conn, self._conn, self._ch = self._conn, None, None
        try:
            if conn is not None:
                conn.collect()  # drops the socket without the close handshake a broken connection cannot do
        except Exception:
            pass


class _OncePerMinute(logging.Filter):
    """aiormq logs every failed connect at ERROR, its own message beside the agent's own warning
    (once a minute): those of the agent's sender thread pass once a minute too. The host's own
    connections (taskiq-aio-pika's broker) log as they always did."""

    def __init__(self) -> None:
        super().__init__()
        self._last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.threadName != SENDER_THREAD:
            return True
        now = time.monotonic()
        if now - self._last < 60:
            return False
        self._last = now
        return True


_connect_log_filter: _OncePerMinute | None = None


def _quiet_our_connect_errors() -> None:
    global _connect_log_filter
    if _connect_log_filter is None:
        _connect_log_filter = _OncePerMinute()
        logging.getLogger("aiormq.connection").addFilter(_connect_log_filter)


class BatchRefused(Exception):
    """The service answered that this batch can never be stored (400: malformed, its project
    unknown). Sent again it would be refused again, and block the events behind it."""


INGEST_PATH = "/api/ingest/v1/batches"


class HttpTransport:
    def __init__(self, url: str, agent_id: str) -> None:
        # Z4J_HTTP_URL is the service's URL; the endpoint's own URL (as the service's start banner
        # shows it) is taken as it is, not given the path twice.
        base = url.rstrip("/")
        self._url = base if base.endswith(INGEST_PATH) else base + INGEST_PATH
        self._agent = agent_id

    def send(self, body: bytes, sig: str, events: int = 1) -> None:
        req = urllib.request.Request(self._url, data=body, method="POST", headers={"Content-Type": "application/json", "X-Z4J-Agent": self._agent, "X-Z4J-Signature": sig})
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                res.read()
        except urllib.error.HTTPError as err:
            if err.code == 409:  # a replay: it arrived before
                return
            if err.code == 400:
                raise BatchRefused(f"the service refused the batch (400: {_error_text(err)})") from None
            if err.code == 404:  # not z4j's endpoint: say where it posted
                raise urllib.error.HTTPError(err.url, 404, f"Not Found: no z4j ingest endpoint at {self._url} (Z4J_HTTP_URL is the service's URL)", err.headers, None) from None
            raise

    def close(self) -> None:
        pass


def make_transport(kind: str, broker_url: str, http_url: str, agent_id: str, project: str, maxlen: int, amqp_queue: str, amqp_queue_max_bytes: int = 0) -> Transport:
    if kind == "auto":
        if broker_url.startswith(REDIS_SCHEMES):
            kind = "redis"
        elif broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
            kind = "amqp"
        elif http_url:
            kind = "http"
        else:
            raise ValueError("no transport: set Z4J_BROKER_URL (redis:// or amqp://) or Z4J_HTTP_URL")
    if kind == "redis":
        return RedisStreamTransport(broker_url, agent_id, project, maxlen)
    if kind == "amqp":
        return _amqp_transport(broker_url, agent_id, amqp_queue, amqp_queue_max_bytes)
    return HttpTransport(http_url, agent_id)


# The AMQP clients the agent publishes with, in order of preference: whichever the worker has.
AMQP_CLIENTS = (("pika", AmqpTransport), ("aio_pika", AioPikaTransport), ("amqp", PyAmqpTransport))


def _amqp_transport(url: str, agent_id: str, queue: str, max_bytes: int) -> Transport:
    """With the worker's own AMQP client: pika (Dramatiq's RabbitmqBroker), aio-pika
    (taskiq-aio-pika) or py-amqp (Celery's, through kombu)."""
    for module, make in AMQP_CLIENTS:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        return make(url, agent_id, queue, max_bytes)
    raise ImportError("no AMQP client to publish with: install pika, aio-pika or amqp (py-amqp)")


def _error_text(err: Any) -> str:
    """The service's error message ({error: {code, message}}), short."""
    try:
        body = json.loads(err.read(4096) or b"{}")
        return f"{body['error']['code']}: {body['error']['message']}"[:300]
    except Exception:
        return str(err)[:300]

