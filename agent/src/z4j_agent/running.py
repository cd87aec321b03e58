"""Tasks in this worker process, for the commands that act on them (commands.py): where each
running task runs, so a terminate stops exactly that one, and the ids cancelled before they
started, so their message is skipped when it comes."""

from __future__ import annotations

import ctypes
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from .commands import CommandError

STOP_WAIT_S = 10.0


def _set_async_exc(ident: int, exc: Any) -> int:
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0))


def _greenlet_of(ident: int) -> tuple[Any, Any] | None:
    """The greenlet whose id gevent's patched threading.get_ident gave, and its hub; None where
    gevent has not patched threading. A walk of the heap: a terminate command's cost, never a
    task's (which records its get_ident() as it would without gevent)."""
    import sys

    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    import gc

    import gevent
    from greenlet import greenlet

    for obj in gc.get_objects():
        if isinstance(obj, greenlet) and id(obj) == ident:
            return obj, gevent.get_hub()
    return None


class CancelledTasks:
    """Task ids cancelled from z4j (`cancel` commands, where the broker cannot take one message
    out of its queue): the worker skips their message when it comes, as a Celery worker does a
    revoked id. Bounded: an id is forgotten after at most `max_ttl_s`, and past `size` ids the
    oldest first. Read on the worker's hot path without a lock: a dict lookup, atomic under the
    GIL (and an empty memory is one len())."""

    def __init__(self, size: int = 10_000, max_ttl_s: float = 86_400.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()  # id → when it is forgotten; oldest first
        self._size = size
        self._max_ttl_s = max_ttl_s
        self._clock = clock
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def add(self, task_id: str, ttl_s: float) -> float:
        """Remembers the id for `ttl_s` (at most max_ttl_s); returns for how long."""
        ttl = min(max(float(ttl_s), 0.0), self._max_ttl_s)
        with self._lock:
            now = self._clock()
            self._until.pop(task_id, None)
            self._until[task_id] = now + ttl
            while self._until and (len(self._until) > self._size or next(iter(self._until.values())) <= now):
                self._until.popitem(last=False)
        return ttl

    def __contains__(self, task_id: object) -> bool:
        until = self._until.get(task_id)  # type: ignore[call-overload]
        if until is None:
            return False
        now = self._clock()
        if until <= now:
            with self._lock:  # forgotten; under the lock, as add() walks the oldest end
                if self._until.get(task_id, now) <= now:  # type: ignore[call-overload]
                    self._until.pop(task_id, None)  # type: ignore[call-overload]
            return False
        return True


class RunningTasks:
    """task id → where it runs in this process (a thread, or an asyncio task and its loop), so a
    terminate command can stop exactly that task. A thread is stopped the way Dramatiq's TimeLimit
    does it: an exception raised in it at its next Python instruction (CPython; a blocking C call,
    such as one long sleep, delays it until it returns). Under gevent (dramatiq-gevent, Huey's
    greenlet workers) a "thread" is a greenlet: the exception is raised where it waits, as gevent's
    Timeout does. An asyncio task is cancelled.
    Also the ids cancelled before they started (`cancelled`): a task starts or is cancelled,
    under one lock, never both."""

    def __init__(self) -> None:
        self.cancelled = CancelledTasks()
        # Its ids (the dict itself, never rebound): whether any exists is then a C-level len, not
        # CancelledTasks.__len__, on the hot path of every task start.
        self._cancelled_ids = self.cancelled._until
        self._lock = threading.Lock()
        self._where: dict[str, tuple[str, Any, Any]] = {}  # id → ("thread", ident, None) | ("asyncio", task, loop) | ("none", why, None)
        self._done: dict[str, threading.Event] = {}  # only for tasks a stop() waits on (an Event per task costs µs)
        self._stopping: set[str] = set()

    def started_thread(self, task_id: str) -> None:
        self._started(task_id, ("thread", threading.get_ident(), None))

    def start_thread_unless_cancelled(self, task_id: str) -> bool:
        """Records the task as running in this thread, or, when it was cancelled, nothing: False,
        skip it. (`_started` written out: one call less per task.)"""
        where = ("thread", threading.get_ident(), None)
        with self._lock:
            if self._cancelled_ids and task_id in self.cancelled:
                return False
            self._where[task_id] = where
        return True

    def started_asyncio(self, task_id: str, task: Any, loop: Any) -> None:
        self._started(task_id, ("asyncio", task, loop))

    def started_unstoppable(self, task_id: str, why: str) -> None:
        self._started(task_id, ("none", why, None))

    def _started(self, task_id: str, where: tuple[str, Any, Any], unless_cancelled: bool = False) -> bool:
        with self._lock:
            if unless_cancelled and self._cancelled_ids and task_id in self.cancelled:
                return False
            self._where[task_id] = where
        return True

    @property
    def lock(self) -> threading.Lock:
        """Held while a cancel decides (`cancel`): an engine's gate that skips cancelled messages
        decides under it too, so a message is either skipped there or seen as taken here."""
        return self._lock

    def cancel(self, args: dict[str, Any], taken: Callable[[str], str | None] | None = None) -> dict[str, Any]:
        """The `cancel` command: remembers the id, so its message is skipped when it comes; refuses
        (code STARTED) when the task is already running here, or when `taken` (asked under `lock`)
        says why the engine already holds its message past the point where it would be skipped."""
        task_id = str(args["taskId"])
        with self._lock:
            if task_id in self._where:
                raise CommandError(f"task {task_id} already started in this worker: a cancel cannot stop it (terminate can)", code="STARTED")
            why = taken(task_id) if taken is not None else None
            if why:
                raise CommandError(why, code="STARTED")
            ttl = self.cancelled.add(task_id, args.get("forgetAfterS") or 86_400)
        return {"remembered": True, "message": f"this worker skips it when it comes (remembered for {ttl / 3600:g} h)"}

    def finished(self, task_id: str) -> bool:
        """The task ended (or left this thread); True when z4j had asked it to stop."""
        with self._lock:
            where = self._where.pop(task_id, None)
            if not self._stopping:  # the usual case: no stop asked (a waiting stop() is also stopping)
                return False
            done = self._done.pop(task_id, None)
            stopping = task_id in self._stopping
            self._stopping.discard(task_id)
            if stopping and where is not None and where[0] == "thread" and where[1] == threading.get_ident():
                _set_async_exc(where[1], None)  # not delivered yet (the task ended first): it must not hit the next task
        if done is not None:
            done.set()
        return stopping

    def _throw_if_running(self, task_id: str, where: tuple[str, Any, Any], green: Any, exc_type: type[BaseException]) -> None:
        """Run by gevent's hub: raises the exception in the task's greenlet, at the point where it
        waits, if the task still runs there (it may have ended, its greenlet gone on to the next)."""
        # No lock: the hub must not block, and no greenlet holds it across a wait (nothing in
        # it waits), so nothing changes these two while this runs.
        if self._where.get(task_id) == where and task_id in self._stopping:
            green.throw(exc_type)

    def stop(self, task_id: str, exc_type: type[BaseException], reason: str = "terminated from z4j", wait: float = STOP_WAIT_S) -> dict[str, Any]:
        """Stops the task and waits (bounded) until it ended; raises CommandError when it cannot."""
        with self._lock:
            where = self._where.get(task_id)
            if where is None:
                raise CommandError(f"task {task_id} is not running in this worker (it finished, or never started here)")
            kind, what, loop = where
            if kind == "none":
                raise CommandError(what)
            if task_id in self._stopping:
                raise CommandError(f"task {task_id} is already being stopped")
            green = None
            if kind == "thread":
                if _set_async_exc(what, exc_type) != 1:
                    _set_async_exc(what, None)
                    green = _greenlet_of(what)  # under gevent, a "thread" id is a greenlet's
                    if green is None:
                        raise CommandError("the thread running the task could not be interrupted")
                    green[1].loop.run_callback(self._throw_if_running, task_id, where, green[0], exc_type)
                how = "exception raised in its greenlet" if green is not None else "exception raised in its thread"
            else:
                how = "asyncio task cancelled"
                loop.call_soon_threadsafe(what.cancel, reason)
            self._stopping.add(task_id)
            done = self._done.setdefault(task_id, threading.Event())  # finished() sets it, under this lock's order
        if done.wait(wait):
            return {"stopped": True, "how": how}
        raise CommandError(f"asked task {task_id} to stop; still running after {wait:g} s (it stops at its next Python instruction: a blocking call delays it)")
