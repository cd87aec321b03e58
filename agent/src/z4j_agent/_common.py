"""What every engine module shares: the hook guard, exception text, worker names, a small
memory of task roots, and the engine-version check."""

from __future__ import annotations

import functools
import itertools
import logging
import os
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections import deque
from typing import Any, Callable, TypeVar

from .os_signals import reraise_if_from_a_signal_handler

log = logging.getLogger("z4j_agent")

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """The agent's part of a hook: logs and swallows, so nothing the agent does reaches the task.
    Exceptions only: a BaseException is a request to stop (Ctrl-C, a time limit, a terminate)
    that may land in the agent's code, and goes on (redact.scrub); so does an Exception a signal
    handler of the host's raised (RQ's stop and job timeout, Celery's soft time limit)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            try:
                reraise_if_from_a_signal_handler(err)
                log.debug("z4j agent hook %s failed", fn.__name__, exc_info=True)
            except RecursionError:  # raised near the limit, any call here raises it again: not into the task
                pass
            return None

    return run  # type: ignore[return-value]


def hook_failed(name: str) -> None:
    """What `guarded` does with an exception, for the hot hooks that catch their own (a wrapper
    is one more call per hook, on the path of every task). Call it from an `except` block: what a
    signal handler of the host's raised goes on from there, as from `guarded`."""
    err = sys.exc_info()[1]
    if err is not None:
        reraise_if_from_a_signal_handler(err)
    log.debug("z4j agent hook %s failed", name, exc_info=True)


def exception_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    try:
        msg = str(exc)
    except Exception as caught:  # an exception's broken __str__ must not lose the task's failure
        reraise_if_from_a_signal_handler(caught)
        msg = "<str() failed>"
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def traceback_text(exc: BaseException | None) -> str | None:
    """Never raises: hooks call it in the task's own except clauses (arq's job wrapper), where an
    exception would replace the task's. The traceback module raises for an exception whose
    attribute lookup raises something else than AttributeError (a `__getattr__` reading a dict:
    KeyError('__notes__')); its frames are then formatted without it."""
    if exc is None or exc.__traceback__ is None:
        return None
    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=30))
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        try:
            return "Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__, limit=30)) + (exception_text(exc) or "")
        except Exception as caught:
            reraise_if_from_a_signal_handler(caught)
            return None


def last_line(text: str | None) -> str | None:
    """The "Type: message" line of a formatted traceback."""
    if not text:
        return None
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else None


def worker_name(engine: str) -> str:
    return f"{engine}@{socket.gethostname()}:{os.getpid()}"


def now() -> float:
    return time.time()


def iso(dt: Any) -> str | None:
    try:
        return dt.isoformat() if dt is not None else None
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return None


def iso_epoch(value: Any, per_second: float = 1, plus: float = 0.0) -> str | None:
    """A time since the epoch (`value` in units of 1/per_second, then `plus` seconds) as ISO 8601
    in UTC; None when it is not a time. Never raises: hooks call it in the caller's code."""
    try:
        import datetime

        return datetime.datetime.fromtimestamp(float(value) / per_second + plus, datetime.timezone.utc).isoformat()
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return None


def clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def redis_url(client: Any) -> str:
    """The URL of a redis-py (sync or asyncio) client, for the agent's own connection: a
    redis+sentinel:// one (redis_sentinel.py) for a client that finds its master through Sentinel."""
    pool = client.connection_pool
    if getattr(pool, "service_name", None) is not None:  # found through Sentinel
        from .redis_sentinel import url_of_pool

        return url_of_pool(pool)
    kw = pool.connection_kwargs
    if kw.get("path"):
        return f"unix://{kw['path']}?db={kw.get('db', 0)}"
    auth = ""
    if kw.get("password"):
        user = urllib.parse.quote(kw.get("username") or "", safe="")
        auth = f"{user}:{urllib.parse.quote(kw['password'], safe='')}@"
    url = f"{auth}{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
    if not is_tls_pool(pool):
        return f"redis://{url}"
    tls = redis_tls_settings(kw)
    return f"rediss://{url}" + ("?" + urllib.parse.urlencode(tls) if tls else "")


def is_tls_pool(pool: Any) -> bool:
    """A redis-py connection pool (sync or asyncio, plain or Sentinel) that speaks TLS."""
    return "ssl" in str(getattr(pool, "connection_class", "")).lower()


# The TLS settings of a client that a redis-py URL carries as text, so the agent's own connection
# trusts (and shows) what the worker's does: a private CA above all.
_TLS_FILES = ("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile")


def redis_tls_settings(kw: dict[str, Any]) -> dict[str, str]:
    """The TLS settings among a redis-py client's connection arguments (or Celery's Redis
    broker_use_ssl, which has their names), as a redis-py URL's query carries them."""
    from redis import connection

    from .transport import cert_reqs_name

    query = {k: kw[k] for k in _TLS_FILES if isinstance(kw.get(k), str)}
    if kw.get("ssl_cert_reqs") is not None:
        query["ssl_cert_reqs"] = cert_reqs_name(kw["ssl_cert_reqs"])
    # Only where this redis-py reads it as a boolean: as plain text, "False" would be true.
    if isinstance(kw.get("ssl_check_hostname"), bool) and "ssl_check_hostname" in getattr(connection, "URL_QUERY_ARGUMENT_PARSERS", {}):
        query["ssl_check_hostname"] = str(kw["ssl_check_hostname"])
    return query


def secure_url(url: str, scheme: str, settings: dict[str, Any]) -> str:
    """`url` with the TLS `scheme` (rediss, amqps) and the `settings` (query arguments) it does
    not carry already: a worker's TLS said apart from its URL (Celery's broker_use_ssl) written
    into the URL the agent connects with."""
    parts = urllib.parse.urlsplit(url)
    have = {k for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)}
    extra = urllib.parse.urlencode([(k, v) for k, v in settings.items() if k not in have and v not in (None, "")])
    return urllib.parse.urlunsplit(parts._replace(scheme=scheme, query="&".join(q for q in (parts.query, extra) if q)))


def trim_oldest(m: dict[Any, Any], keep: int) -> None:
    """Forgets the oldest entries of `m` (a dict keeps its order of insertion) past `keep`. No
    lock: a race with another thread's trim costs at most an entry forgotten early."""
    try:
        for old in list(itertools.islice(m, max(0, len(m) - keep))):
            m.pop(old, None)
    except RuntimeError:  # changed by another thread meanwhile: trimmed next time
        pass


# Entries a producer's hook keeps from before a send to after it, which the engine skips when the
# send raises (the broker down): past this many, the oldest are forgotten (`trim_oldest`).
MAX_PENDING_SENDS = 10_000


class Roots:
    """task id → the id of its workflow's first task, for tasks this process sent or ran: how a
    follow-up task learns its root when the engine does not carry it. Bounded (oldest forgotten).
    No lock: each dict operation is atomic under the GIL, and a race between two trims costs at
    most an entry forgotten early."""

    def __init__(self, size: int = 10_000) -> None:
        self._map: dict[str, str] = {}  # never rebound
        self._size = size
        # `get` is the dict's own (a C call, no Python frame: hooks ask it several times per task).
        self.get: Callable[[str], str | None] = self._map.get

    def set(self, task_id: str, root_id: str) -> None:
        m = self._map
        m.pop(task_id, None)  # to the newest end
        m[task_id] = root_id
        if len(m) > self._size:
            trim_oldest(m, self._size)

    def of(self, task_id: str) -> str:
        return self._map.get(task_id, task_id)

    def __bool__(self) -> bool:
        return bool(self._map)

    def forget(self, task_id: str) -> None:
        self._map.pop(task_id, None)


_INSTALLED_MARK = "_z4j_agent_installed"


def installed_on(obj: Any) -> bool:
    """Whether the agent was installed on this engine object (an app, a Huey instance). Marked on
    the object itself, not remembered by id(): an id is reused once its object is collected, and
    a new app then looked installed and got no hooks (a test's app made per test)."""
    return bool(getattr(obj, _INSTALLED_MARK, False))


def mark_installed(obj: Any) -> None:
    setattr(obj, _INSTALLED_MARK, True)


def version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def require(engine: str, installed: str, minimum: tuple[int, ...]) -> None:
    """A clear error when the engine the user asked the agent to instrument is too old."""
    if version_tuple(installed) < minimum:
        raise RuntimeError(f"z4j_agent.{engine} needs {engine} >= {'.'.join(map(str, minimum))} (found {installed})")


class InFlight:
    """Tasks running now in this process, and how many finished: for heartbeats. The hooks of
    every task count here, so without a lock: a start or an end is a deque append (atomic under
    the GIL), added up when the counts are read, or when many are waiting."""

    _START, _END, _FAILED, _FAILED_LATER = 0, 1, 2, 3

    def __init__(self) -> None:
        self._marks: deque[int] = deque()
        self._lock = threading.Lock()  # one tally at a time
        self._active = self._processed = self._failed = 0

    def start(self) -> None:
        self._marks.append(self._START)
        if len(self._marks) > 4096:
            self._tally()

    def end(self, failed: bool = False) -> None:
        self._marks.append(self._FAILED if failed else self._END)
        if len(self._marks) > 4096:
            self._tally()

    def failed_later(self) -> None:
        """A run that ended (`end`, not failed) turned out to have failed: counted a failure, not
        a second run. For an outcome the engine decides after the run's own hook (Dramatiq's)."""
        self._marks.append(self._FAILED_LATER)

    def _tally(self) -> None:
        with self._lock:
            marks = self._marks
            for _ in range(len(marks)):  # those there now, in their order; later ones wait for the next tally
                mark = marks.popleft()
                if mark == self._START:
                    self._active += 1
                elif mark == self._FAILED_LATER:
                    self._failed += 1
                else:
                    self._active = max(0, self._active - 1)
                    self._processed += 1
                    if mark == self._FAILED:
                        self._failed += 1

    def stats(self, concurrency: int | None) -> dict[str, Any]:
        self._tally()
        return clean({"active": self._active, "processed": self._processed, "failed": self._failed, "concurrency": concurrency})


def say_offline(agent: Any, engine: str, worker: str, stops: tuple[Any, ...], stats: dict[str, Any]) -> None:
    """A worker's goodbye: stops its heartbeat and command listener, reports it offline, and
    delivers what is left within the exit deadline."""
    for stop in stops:
        if stop is not None:
            stop()
    agent.worker_event(engine, "worker-offline", worker, fields=stats)
    agent.exit_flush()
