"""Huey: `z4j_agent.huey.install(huey)`, next to `huey = RedisHuey(...)` (producers and consumers).

Built on Huey's own signals and pre/post-execute and startup/shutdown hooks. Huey gives no
timings: the agent measures them. Pipelines (`task.then(...)`): when a step completes, the
agent notes that the next step's parent is this one (and its root this one's root), so the next
step's events carry the links; tasks enqueued from inside a running task are its children. A
chord's members carry its id (groupId); its callback's parent is the member that completed it,
an error handler's the task that failed.
Roots are known within one consumer process (thread or greenlet workers, or the same process
worker); a step run by another process worker, which cannot know its pipeline's first task, is
sent with its parent only, never a root guessed, and the service takes the parent's root.

Commands (docs/agent-protocol.md): a consumer's agent retries a task (a new task of the same
Huey task class, with the exact args / kwargs and the id z4j chose) and terminates a running one
(Huey's own CancelExecution raised in the worker's thread or greenlet, never retried)."""

from __future__ import annotations

import atexit
import datetime
import signal
import sys
import threading
import time
from typing import Any

from ._common import InFlight, Roots, clean, exception_text, guarded, hook_failed, installed_on, iso, mark_installed, redis_url, require, say_offline, traceback_text, worker_name
from .commands import CommandError, CommandListener
from .running import RunningTasks
from .core import get_agent
from .core import policies  # the policy module, as core has it (the package exports a function named policy)
from .os_signals import ignoring_in_the_main_thread, reraise_if_from_a_signal_handler

ENGINE = "huey"
MIN_VERSION = (2, 6)
# Huey pickles a task's call (Huey(serializer=...) may change that: a JSON one is rare), and z4j's
# retries and schedules call the task in-process with the payload's JSON values: the task received
# its arguments' Python types, so a retry payload JSON would change (an int key, a nested tuple, an
# IntEnum) is left out.
KEEPS_TYPES = True

_lock = threading.Lock()


def _passed(when: Any) -> bool:
    """Whether an aware time is now or past (False for anything else)."""
    try:
        return bool(when <= datetime.datetime.now(datetime.timezone.utc))
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return False


def _aware(when: Any, utc: bool) -> Any:
    """Huey's times are naive: UTC where the Huey is `utc` (its default), else the process's local
    time. Made explicit, so the service never has to guess (it reads a naive time as UTC)."""
    try:
        if getattr(when, "tzinfo", True) is not None:
            return when
        return when.replace(tzinfo=datetime.timezone.utc) if utc else when.astimezone(datetime.timezone.utc)
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return when


def _attempt(task: Any) -> int:
    return max(0, int(getattr(type(task), "default_retries", 0) or 0) - int(task.retries or 0))


class _HueyAgent:
    def __init__(self, huey: Any, agent: Any) -> None:
        self.huey = huey
        self.agent = agent
        # The name the storage uses in its keys: RedisStorage drops every character outside
        # [A-Za-z0-9_] (RedisHuey('my-app') keeps its tasks in `huey.redis.myapp`), and the
        # service finds the queue's list and results hash by this name.
        self.queue = str(getattr(getattr(huey, "storage", None), "name", None) or huey.name)
        self.worker = worker_name(ENGINE)
        self.flight = InFlight()
        self.local = threading.local()
        self.lock = threading.Lock()
        self.started: dict[str, tuple[float, dict[str, Any]]] = {}  # task id → (its start, its started event's fields)
        self.names: dict[type, str] = {}  # task class → its name
        self.parents = Roots()  # next step / child → its parent
        self.roots = Roots()
        self.payloads_sent = Roots(50_000)  # ids whose payload this process already sent
        # id → the attempt its next run is, for tasks this process retried. Huey keeps only the
        # retries left, which a RetryTask leaves as they were and a per-call `retries` sets
        # apart from the task's default: the default's formula (_attempt) is the fallback.
        self.attempts = Roots(50_000)
        self.workers = 0
        self.stop_heartbeat = None
        self.running = RunningTasks()
        self.broker_url = ""  # where commands come from: the Huey storage's Redis
        self.commands: CommandListener | None = None
        self.stop_commands = None

    def name(self, task: Any) -> str:
        """The task's registered name, made once per task class (Huey formats it anew per call)."""
        cls = type(task)
        found = self.names.get(cls)
        if found is None:
            try:
                found = self.huey._registry.task_to_string(cls)
            except Exception as caught:
                reraise_if_from_a_signal_handler(caught)
                return getattr(task, "name", cls.__name__)
            if len(self.names) >= 1024:
                self.names.clear()
            self.names[cls] = found
        return found

    def links(self, task: Any) -> dict[str, Any]:
        cc = getattr(task, "chord_config", None)  # Huey 3 (chords)
        return {"parentId": self.parents.get(task.id), "rootId": self.roots.get(task.id), "groupId": cc.cid if cc is not None else None}

    def attempt(self, task: Any) -> int:
        known = self.attempts.get(task.id) if self.attempts else None
        return _attempt(task) if known is None else known

    def fields(self, task: Any, **more: Any) -> dict[str, Any]:
        return clean({"name": self.name(task), "queue": self.queue, "retries": self.attempt(task), **self.links(task), **more})

    def event(self, kind: str, task: Any, worker: bool = True, payload: Any = None, **more: Any) -> None:
        self.agent.task_event(ENGINE, kind, task.id, fields=self.fields(task, **more), payload=payload, worker=self.worker if worker else None, func=getattr(task, "execute", None))

    def hot_fields(self, task: Any, fields: dict[str, Any], attempt: int | None = None) -> dict[str, Any]:
        """`fields` for the events of every task (enqueued, started, succeeded): the same as
        `event`'s, built without the helpers, in place (task_event leaves out those that are None)."""
        tid = task.id
        parent = self.parents.get(tid)
        root = self.roots.get(tid)  # known here only: a guess (the task's own id) may be wrong
        fields["queue"] = self.queue
        fields["retries"] = self.attempt(task) if attempt is None else attempt
        if parent is not None:
            fields["parentId"] = parent
        if root is not None:
            fields["rootId"] = root
        cc = getattr(task, "chord_config", None)  # Huey 3 (chords)
        if cc is not None:  # a chord's member
            fields["groupId"] = cc.cid
        return fields

    # ---- producer side ---------------------------------------------------------------------

    def on_enqueued(self, signal: str, task: Any, *args: Any) -> None:
        try:
            if self.agent.enabled:
                self.enqueued(signal, task)
        except Exception:  # caught here, not by a `guarded` wrapper: one call less per task
            hook_failed("on_enqueued")

    def enqueued(self, signal: str, task: Any) -> None:
        current = getattr(self.local, "task", None)
        if current is not None and current.id != task.id and self.parents.get(task.id) is None:
            self.parents.set(task.id, current.id)  # sent from inside a running task
            self._inherit_root(task.id, current.id)
        elif task.on_complete is not None and self.parents.get(task.id) is None and self.roots.get(task.id) is None:
            self.roots.set(task.id, task.id)  # the head of a pipeline is its own root
        name = self.name(task)
        call_args, call_kwargs = task.args or (), task.kwargs or {}  # copied by task_event (snapshots)
        requeued = self.attempts.get(task.id) if self.attempts else None  # a retry this process requeues
        attempt = _attempt(task) if requeued is None else requeued
        payload = None
        # Not on the attempt the formula gives: a per-call `retries` below the task's default would
        # leave a first enqueue without its payload (and z4j unable to retry it).
        if requeued is None and self.payloads_sent.get(task.id) is None:  # not sent yet from here
            self.payloads_sent.set(task.id, "sent")
            # An expiry given as a datetime (a moment, not a delay) is not kept: JSON cannot carry
            # it exactly, which would cost the whole payload, and retry() sends numbers only.
            expires = task.expires if type(task.expires) in (int, float) else None
            payload = {"name": name, "args": call_args, "kwargs": call_kwargs, "queue": self.queue,
                       "options": clean({"priority": task.priority, "retries": task.retries, "retry_delay": task.retry_delay, "expires": expires, "timeout": getattr(task, "timeout", None)})}
        fields = {"name": name, "args": call_args, "kwargs": call_kwargs}
        if task.eta is not None:  # schedule() / s(delay=…): a producer's enqueue already knows it
            eta = _aware(task.eta, getattr(self.huey, "utc", True))
            fields["eta"] = iso(eta)
            # A task with an eta is enqueued up to three times: by its producer, into a consumer's
            # schedule when a worker finds it early, and onto its queue when the eta comes. Said
            # which, the timeline does not show three identical lines.
            if signal == "scheduled" and requeued is None:
                fields["reason"] = "held in the consumer's schedule until its eta"
            elif signal == "enqueued" and _passed(eta):
                fields["reason"] = "its eta came: moved onto its queue"
        self.agent.task_event(ENGINE, "enqueued", task.id, fields=self.hot_fields(task, fields, attempt), payload=payload, func=_func(task), keeps_types=KEEPS_TYPES)

    # ---- consumer side ---------------------------------------------------------------------
    # The hooks of every task catch their own exceptions (hook_failed) instead of being
    # `guarded`: a wrapper is one more call per hook.

    def on_executing(self, signal: str, task: Any, *args: Any) -> None:
        try:
            if not self.agent.enabled:
                return
            tid = task.id
            local = self.local
            outer = getattr(local, "task", None)  # a task running this one inline (immediate mode), else None
            local.task = task
            self.running.started_thread(tid)  # a greenlet's id under gevent: running.py stops either
            # The fields of its start serve its success too (made once per task; nobody changes them).
            fields = self.hot_fields(task, {"name": self.name(task)})
            self.started[tid] = (time.monotonic(), fields, outer)  # one key per task, set and popped by its own thread: no lock
            self.flight.start()
            self.agent.own_event(ENGINE, "started", tid, fields, self.worker, _func(task))
        except Exception:
            hook_failed("on_executing")

    def post_execute(self, task: Any, value: Any, exc: BaseException | None) -> None:
        try:
            if not self.agent.enabled:
                return
            self.running.finished(task.id)
            cancelled = isinstance(exc, _Cancel)
            if cancelled and not (task.retries and task.id in self.started):
                return  # reported by the canceled signal (on_skipped left a cancel Huey requeues here)
            start, base, self.local.task = self.started.pop(task.id, None) or (None, None, None)
            runtime = round(time.monotonic() - start, 6) if start is not None else None
            # A cancel is no failure, retried or not, nor is a retry the task asked for (README,
            # "Workers"); any other exception is, retried or not.
            self.flight.end(exc is not None and not cancelled and not _retry_asked(exc))
            if task.on_error is not None or getattr(task, "chord_config", None) is not None:
                self.follow_ups(task, exc)
            if exc is None:
                self.succeeded(task, value, base, runtime)
            else:
                self.failed_attempt(task, exc, runtime)
            if self.attempts and (exc is None or not task.retries):  # it ended: no next attempt to count
                self.attempts.forget(task.id)
        except Exception:
            hook_failed("post_execute")

    def succeeded(self, task: Any, value: Any, base: dict[str, Any] | None, runtime: float | None) -> None:
        # Its start's fields still hold: a task that succeeded was not retried meanwhile.
        fields = {**base, "runtime": runtime} if base is not None else self.hot_fields(task, {"name": self.name(task), "runtime": runtime})
        if value is None:  # the usual no-op result: the event holds nothing of the task's
            self.agent.own_event(ENGINE, "succeeded", task.id, fields, self.worker, _func(task))
        else:
            fields["result"] = value
            self.agent.task_event(ENGINE, "succeeded", task.id, fields=fields, worker=self.worker, func=_func(task))
        if task.on_complete is not None:  # the pipeline's next step, enqueued right after this
            self.parents.set(task.on_complete.id, task.id)
            self._inherit_root(task.on_complete.id, task.id)

    def follow_ups(self, task: Any, exc: BaseException | None) -> None:
        """What Huey enqueues after this task's post-execute hooks, in its thread, once the task
        no longer runs there: its error handler (a copy of `on_error`, same id) and, from the
        chord's last member to finish, the chord's callback. Both are linked to this task here."""
        if exc is not None and task.on_error is not None:
            self.parents.set(task.on_error.id, task.id)
            self._inherit_root(task.on_error.id, task.id)
        cc = getattr(task, "chord_config", None)
        if cc is not None and exc is None and getattr(cc, "callback", None) is not None:
            self.parents.set(cc.callback.id, task.id)
            self._inherit_root(cc.callback.id, task.id)

    def _inherit_root(self, child: str, parent: str) -> None:
        """The child's root is its parent's, where this process knows it. Where it does not, no
        root is sent, and the service takes the parent's: a task this process did not send may
        be a producer's top-level task (its own root) or a pipeline's step another process
        handed on (whose root is the pipeline's first task), which look alike here."""
        root = self.roots.get(parent)
        if root is not None:
            self.roots.set(child, root)

    def failed_attempt(self, task: Any, exc: BaseException, runtime: float | None) -> None:
        err = {"exception": exception_text(exc), "traceback": traceback_text(exc)}
        if task.retries:
            attempt = self.attempt(task)
            self.event("retried", task, **err)
            self.attempts.set(task.id, attempt + 1)  # Huey requeues it next, from this thread
        else:
            self.event("failed", task, runtime=runtime, timedOut=True if isinstance(exc, _Timeout) else None, **err)

    def on_skipped(self, signal: str, task: Any, *args: Any) -> None:
        if signal == "canceled" and task.retries and task.id in self.started and _raised_in_task():
            # CancelExecution(retry=True) (or retry=None with retries left) from the task's own code:
            # Huey requeues it after post_execute, which reports it retried like any retry.
            return
        started = self.started.pop(task.id, None)
        running = started is not None
        if running:
            self.local.task = started[2]
        terminated = self.running.finished(task.id)
        if running:  # cancelled by a pre-execute hook or from inside the task
            self.flight.end()
        more = {"reason": "terminated from z4j", "exception": "Terminated: terminated from z4j"} if terminated else {}
        self.event("expired" if signal == "expired" else "revoked", task, worker=running, **more)

    def on_interrupted(self, signal: str, task: Any, *args: Any) -> None:
        started = self.started.pop(task.id, None)
        if started is not None:
            self.local.task = started[2]
        self.running.finished(task.id)
        self.flight.end(failed=True)
        self.event("failed", task, exception="Interrupted: the consumer stopped while the task ran")

    def startup(self) -> None:
        with self.lock:
            self.workers += 1
            first = self.workers == 1
            self.worker = worker_name(ENGINE)  # a process worker: this process's pid
        if first:
            import huey as huey_pkg

            self.commands = CommandListener(self.agent, ENGINE, self.worker, self.broker_url, {"retry": self.retry, "terminate": self.terminate}, queues=[self.queue])
            announce = self.commands.announcement()
            self.agent.worker_event(ENGINE, "worker-online", self.worker, fields={"software": f"huey {huey_pkg.__version__}", "queues": [self.queue], "commands": announce})
            self.stop_heartbeat = self.agent.start_heartbeat(ENGINE, self.worker, lambda: {**self.flight.stats(self.workers or None), "commands": announce})
            self.stop_commands = self.commands.start()
            atexit.register(guarded(self.offline))
            import multiprocessing.util  # process workers leave through os._exit: no atexit there

            multiprocessing.util.Finalize(None, guarded(self.offline), exitpriority=100)

    def shutdown(self) -> None:
        with self.lock:
            self.workers -= 1
            last = self.workers <= 0
        if last:
            self.offline()

    def offline(self) -> None:
        """Once: when the last worker shuts down, or at exit (SIGTERM stops Huey without its hooks)."""
        with self.lock:
            stop, self.stop_heartbeat = self.stop_heartbeat, None
        if stop is None:
            return
        # In a process worker (seen with Huey 2.6 and 3.0; 3.5's raises on SIGTERM only while a
        # task runs), a SIGTERM stops the consumer at once, and multiprocessing's exit then
        # terminates its daemonic workers: a second SIGTERM, which Huey turns into a
        # KeyboardInterrupt. Landing in the goodbye, it left the worker online (one CI run). The
        # goodbye is bounded by Z4J_EXIT_FLUSH_TIMEOUT, and the process ends right after it.
        with ignoring_in_the_main_thread(signal.SIGTERM):
            say_offline(self.agent, ENGINE, self.worker, (stop, self.stop_commands), self.flight.stats(None))

    # ---- commands ------------------------------------------------------------------------------

    def retry(self, args: dict[str, Any]) -> dict[str, Any]:
        """A new task of the original's task class with its exact call, under the id z4j chose."""
        try:
            task_class = self.huey._registry.string_to_task(args["name"])
        except Exception:
            raise CommandError(f"this Huey instance has no task {args.get('name')!s:.200}") from None
        # Numbers only (an expiry given as a datetime is not captured: enqueued).
        options = {k: v for k, v in (args.get("options") or {}).items()
                   if k in ("priority", "retries", "retry_delay", "expires", "timeout") and isinstance(v, (int, float)) and not isinstance(v, bool)}
        task = task_class(args=tuple(args.get("args") or ()), kwargs=dict(args.get("kwargs") or {}), id=str(args["taskId"]), **options)
        self.huey.enqueue(task)
        return {"newTaskId": task.id, "queue": self.queue}

    def terminate(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.running.stop(str(args["taskId"]), Terminated)


class _NotInThisHuey(Exception):
    """Stands for an exception class this Huey lacks (TaskTimeout and RateLimitExceeded came with
    Huey 3), or for every one when Huey is absent (the module imports without it): never raised,
    so never matched."""


def _huey_exception(name: str) -> type:
    """Huey's exception class `name`. Each name on its own: one import of them all fell back to
    Exception for every one when one was missing, and on Huey 2.5–2.6 (no TaskTimeout) every
    exception a task raised then read as a CancelExecution."""
    try:
        from huey import exceptions
    except ImportError:
        return _NotInThisHuey
    return getattr(exceptions, name, _NotInThisHuey)


_Cancel = _huey_exception("CancelExecution")
_Timeout = _huey_exception("TaskTimeout")
_RetryTask = _huey_exception("RetryTask")
_RateLimited = _huey_exception("RateLimitExceeded")  # Huey 3


class Terminated(_Cancel):  # type: ignore[misc,valid-type]
    """Raised in the worker thread of a task terminated from z4j: Huey's CancelExecution (the
    task is reported cancelled and not retried), raised asynchronously, as Dramatiq's TimeLimit does."""

    def __init__(self, msg: str = "terminated from z4j", retry: bool = False) -> None:
        # Not CancelExecution's __init__: its arguments changed between Huey versions (3.0 to 3.3
        # take retry first). Raised asynchronously, this is made with no arguments at all.
        Exception.__init__(self, msg)
        self.retry = False


def install(huey: Any, **agent_options: Any) -> None:
    """Idempotent per Huey instance."""
    import huey as huey_pkg
    from huey import signals as S

    with _lock:
        if installed_on(huey):
            return
        require(ENGINE, huey_pkg.__version__, MIN_VERSION)
        conn = _redis_client(huey)
        url = redis_url(conn) if conn is not None else ""
        if url and "broker_url" not in agent_options:
            agent_options["broker_url"] = url
        h = _HueyAgent(huey, get_agent(**agent_options))
        h.broker_url = url
        huey.signal(S.SIGNAL_ENQUEUED, S.SIGNAL_SCHEDULED)(h.on_enqueued)  # catches its own (hook_failed)
        huey.signal(S.SIGNAL_EXECUTING)(h.on_executing)  # catches its own (hook_failed)
        huey.signal(S.SIGNAL_REVOKED, S.SIGNAL_EXPIRED, S.SIGNAL_CANCELED)(guarded(h.on_skipped))
        huey.signal(S.SIGNAL_INTERRUPTED)(guarded(h.on_interrupted))
        huey.post_execute("z4j_agent")(h.post_execute)  # catches its own (hook_failed)
        huey.on_startup("z4j_agent")(guarded(h.startup))
        huey.on_shutdown("z4j_agent")(guarded(h.shutdown))
        mark_installed(huey)


def _redis_client(huey: Any) -> Any:
    """The Redis client of a Huey on Redis storage (RedisHuey and its kin), else None. SqliteHuey's
    storage has a `conn` too, a sqlite3 connection: its agent sends where Z4J_BROKER_URL or
    Z4J_HTTP_URL says, and takes no commands (they come over the storage's Redis)."""
    conn = getattr(getattr(huey, "storage", None), "conn", None)
    return conn if hasattr(conn, "connection_pool") else None


def _raised_in_task() -> bool:
    """Whether the CancelExecution Huey is handling now came out of the task's run. Huey sends
    its canceled signal from inside an `except CancelExecution` in `_execute` in two places:
    around `_run_pre_execute` (a pre-execute hook's cancel, never requeued) and around the task's
    `execute()` (requeued while `task.retries` is left). The traceback starts at `_execute`, where
    it was caught: a cancel from a hook passed through Huey's `_run_pre_execute` (by its name: a
    subclass's override or a wrapper around it still has a frame of that name), any other came
    from the task. Not told by the task's own code: its `execute` may be wrapped so that no frame
    runs it (a decorator object, a partialmethod), or by a wrapper whose code a pre-execute hook
    shares (read as the task's, that cancel got no outcome at all)."""
    tb = sys.exc_info()[2]
    if tb is None:  # no cancel being handled: not Huey's signal from a run
        return False
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_run_pre_execute":
            return False
        tb = tb.tb_next
    return True


def _retry_asked(exc: BaseException) -> bool:
    """Whether the task asked Huey for another run: RetryTask, or a rate limit that retries
    (`huey.rate_limit(..., retry=True)`, the default). Huey adds a retry for either, so neither
    spends the task's own retries. A rate limit without retry is a failure, retried from the
    task's retries like any exception (as is a TaskLockedException)."""
    return isinstance(exc, _RetryTask) or (isinstance(exc, _RateLimited) and bool(getattr(exc, "retry", False)))


def _func(task: Any) -> Any:
    """The task's function, for policies (its decorator's marks): none asked while no policy
    exists (a bound method made per event otherwise)."""
    return task.execute if policies.in_use else None
