"""The command channel on RabbitMQ (docs/agent-protocol.md, "Commands"): each worker process
declares its own durable queue `z4j.commands.<project>.<worker>` (gone `x-expires` after its
last consumer left, so a dead worker's queue does not linger), the service publishes signed
commands to it through the default exchange, and the listener thread consumes it with the AMQP
client the worker already has: pika (Dramatiq) or else aio-pika (taskiq-aio-pika, on an
event loop of the thread's own, never the host's). One command at a time (prefetch 1), acked
once handled; a redelivery after a lost connection reaches the same process, whose memory of
command ids drops it."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from .amqp_connect import aio_pika_options, normal_url, pika_parameters

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
# How long a command queue outlives its last consumer: a worker reconnecting after a broker
# restart finds its queue (and the commands in it); a dead worker's goes away.
QUEUE_EXPIRES_MS = 300_000

Taken = "tuple[bytes, Callable[[], None]] | None"


def command_queue(project: str, worker: str) -> str:
    """The worker's queue; a name past AMQP's 255 bytes becomes a digest (the service does the same)."""
    name = f"z4j.commands.{project}.{worker}"
    if len(name.encode("utf-8")) <= 255:
        return name
    return "z4j.commands." + hashlib.sha256(f"{project}.{worker}".encode("utf-8")).hexdigest()


def client_library() -> str | None:
    """The AMQP client this process has (the engine's own), or None."""
    for name in ("pika", "aio_pika"):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    return None


def open_queue(url: str, queue: str, poll_s: float) -> Any:
    return (PikaQueue if client_library() == "pika" else AioPikaQueue)(url, queue, poll_s)


class _OwnQueue:
    name = "amqp"

    def first_time(self, command_id: str, worker: str) -> bool:
        return True  # the queue is this process's own: its memory of ids is the whole dedupe


class PikaQueue(_OwnQueue):
    """The worker's command queue through pika's BlockingConnection, used from one thread only."""

    def __init__(self, url: str, queue: str, poll_s: float) -> None:
        import pika

        self._pika = pika
        self._params = pika_parameters(url)
        self._params.connection_attempts = 1
        self._queue = queue
        self._poll_s = poll_s
        self._conn: Any = None
        self._ch: Any = None
        self._messages: Any = None

    def _open(self) -> None:
        self._conn = self._pika.BlockingConnection(self._params)
        self._ch = self._conn.channel()
        self._ch.queue_declare(self._queue, durable=True, arguments={"x-expires": QUEUE_EXPIRES_MS})
        self._ch.basic_qos(prefetch_count=1)
        self._messages = self._ch.consume(self._queue, inactivity_timeout=self._poll_s)

    def take(self) -> Taken:
        """The next command and how to ack it, None after a quiet poll; raises when the broker is away."""
        if self._ch is None or not self._ch.is_open:
            self.reset()
            self._open()
        method, _props, body = next(self._messages)
        if method is None:
            return None
        ch, tag = self._ch, method.delivery_tag
        return body, lambda: ch.basic_ack(tag)

    def reset(self) -> None:
        """Drops the connection (after an error); the next take() opens a new one."""
        conn, self._conn, self._ch, self._messages = self._conn, None, None, None
        try:
            if conn is not None and conn.is_open:
                conn.close()
        except Exception:
            pass

    close = reset


class AioPikaQueue(_OwnQueue):
    """The worker's command queue through aio-pika, on an event loop this thread owns: the loop
    runs only while the thread waits for a command or acks one."""

    def __init__(self, url: str, queue: str, poll_s: float) -> None:
        import asyncio

        import aio_pika

        self._asyncio = asyncio
        self._aio_pika = aio_pika
        self._loop = asyncio.new_event_loop()
        self._url = normal_url(url)
        self._tls = aio_pika_options(url)
        self._queue = queue
        self._poll_s = poll_s
        self._conn: Any = None
        self._ch: Any = None
        self._inbox: Any = None
        self._tag: str | None = None

    async def _open(self) -> None:
        self._conn = await self._aio_pika.connect(self._url, timeout=3, **self._tls)
        self._ch = await self._conn.channel()
        await self._ch.set_qos(prefetch_count=1)
        queue = await self._ch.declare_queue(self._queue, durable=True, arguments={"x-expires": QUEUE_EXPIRES_MS})
        self._inbox = self._asyncio.Queue()
        self._tag = await queue.consume(self._inbox.put)

    async def _take(self) -> Any:
        if self._conn is None or self._conn.is_closed or self._ch is None or self._ch.is_closed:
            await self._close()
            await self._open()
        try:
            return await self._asyncio.wait_for(self._inbox.get(), self._poll_s)
        except self._asyncio.TimeoutError:
            pass
        # A queue deleted under the consumer (by hand) cancels it and leaves the channel open:
        # nothing would come any more. pika's consume generator ends then; here the consumer's
        # tag leaves the channel's consumers. Raised, as a lost connection is: the listener's
        # reset and next take declare the queue again.
        if self._tag not in (await self._ch.get_underlay_channel()).consumers:
            raise ConnectionError(f"the broker cancelled the consumer of {self._queue} (the queue was deleted?)")
        return None

    def take(self) -> Taken:
        message = self._loop.run_until_complete(self._take())
        if message is None:
            return None
        return message.body, lambda: self._loop.run_until_complete(message.ack())

    async def _close(self) -> None:
        conn, self._conn, self._ch, self._inbox = self._conn, None, None, None
        try:
            if conn is not None and not conn.is_closed:
                await conn.close()
        except Exception:
            pass

    def reset(self) -> None:
        try:
            self._loop.run_until_complete(self._close())
        except Exception:
            pass

    def close(self) -> None:
        self.reset()
        self._loop.close()
