"""arq: `z4j_agent.arq.instrument(WorkerSettings)` in workers; in producers,
`z4j_agent.arq.install()` (every ArqRedis) or `instrument_pool(redis)` (one pool).

arq's job hooks (on_job_start / on_job_end) see neither the function's name nor its outcome, so
the agent wraps each job function (and cron job) with the same signature; the worker's
on_startup / on_shutdown are chained for worker-online / offline. `arq.worker.Retry` is a retry,
not a failure. Jobs enqueued from inside a job are its children (parentId, rootId). A job that
ends before its function runs (expired, aborted before it started, out of tries, an unknown
function, a job that does not deserialise) goes through the worker's `finish_failed_job`, which
the agent observes for the workers it instrumented. A job enqueued through an instrumented
pool gets an id that marks its call as recorded (recorded_job_id): its worker does not send the
call again.

Commands (docs/agent-protocol.md): a worker's agent retries a job — `enqueue_job` on the
worker's own pool and event loop, with the exact args / kwargs, under the job id z4j chose."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import threading
import time
import uuid
from typing import Any

from ._common import InFlight, Roots, exception_text, guarded, iso, iso_epoch, redis_url, require, say_offline, traceback_text, worker_name
from .commands import CommandError, CommandListener
from .core import Agent, adopt_broker, get_agent

ENGINE = "arq"
MIN_VERSION = (0, 25)
# arq pickles a job's call unless the pool and worker were given a job_serializer (often msgpack,
# which keeps int keys as well; which one it is the agent cannot tell), and z4j's retries and
# schedules call enqueue_job in-process with the payload's JSON values: a retry payload JSON would
# change (an int key, a nested tuple, an IntEnum) is left out. Needlessly so with a JSON
# serializer: that costs only the retry of such a call.
KEEPS_TYPES = True

_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("z4j_arq_job", default=None)
_roots = Roots()
_parents = Roots()
_lock = threading.Lock()
_installed = False


def _check() -> None:
    import arq

    require(ENGINE, getattr(arq, "__version__", getattr(arq, "VERSION", "0")), MIN_VERSION)


def _with_links(job_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with the job's parent and root, when it was enqueued from inside a job."""
    parent = _parents.get(job_id)
    if parent:
        fields["parentId"] = parent
        fields["rootId"] = _roots.get(job_id)
    return fields


def redis_settings_url(settings: Any) -> str:
    """The URL of arq's RedisSettings: its host, or its sentinels (sentinel=True: `host` is their
    list and `sentinel_master` the master's name), with the TLS files it names."""
    if settings is None:
        return "redis://localhost:6379/0"
    if getattr(settings, "unix_socket_path", None):
        return f"unix://{settings.unix_socket_path}?db={settings.database}"
    import urllib.parse

    from ._common import redis_tls_settings

    tls = redis_tls_settings(vars(settings)) if settings.ssl else None
    if getattr(settings, "sentinel", False):
        from .redis_sentinel import make_url

        # arq gives its sentinels no credentials of their own (no sentinel_kwargs), but TLS as the master's.
        return make_url([tuple(h) for h in settings.host], settings.sentinel_master, settings.database, settings.username, settings.password,
                        tls=tls)
    auth = ""
    if settings.password:
        auth = f"{urllib.parse.quote(settings.username or '', safe='')}:{urllib.parse.quote(settings.password, safe='')}@"
    host = settings.host if isinstance(settings.host, str) else "localhost"
    url = f"{'rediss' if settings.ssl else 'redis'}://{auth}{host}:{settings.port}/{settings.database}"
    return url + ("?" + urllib.parse.urlencode(tls) if tls else "")


# ---- producer --------------------------------------------------------------------------------

# Where an agent recorded a job's enqueue (with its call, for the retry payload), the worker's
# agent need not send the call again when the job starts: arq's other engines' messages carry a
# mark for that (Dramatiq's options, taskiq's labels), arq's job (a pickled dict of arq's own
# keys) has no room for one, so its id carries it. The agent chooses the id when the caller did
# not: a random UUID like arq's own, made version 8 (custom) with 24 fixed bits around the variant.
# arq's uuid4 ids never match (their version digit is 4); an id of the caller's own is left as
# it is, and its job sends its call from the worker as before.
_MARK_HEAD, _MARK_TAIL = "8f4a", "7e3"  # hex digits 12–15 (the version first) and 17–19


def recorded_job_id() -> str:
    h = uuid.uuid4().hex
    return f"{h[:12]}{_MARK_HEAD}{h[16]}{_MARK_TAIL}{h[20:]}"


def enqueue_recorded(job_id: str) -> bool:
    """Whether the job's id says an agent recorded its enqueue (recorded_job_id)."""
    return len(job_id) == 32 and job_id[12:16] == _MARK_HEAD and job_id[17:20] == _MARK_TAIL


@guarded
def _record_enqueued(agent: Agent, job_id: str, function: str, args: tuple, kwargs: dict, queue: str, job_try: int | None, at: float, eta: Any) -> None:
    if not agent.enabled:
        return
    current = _current.get()
    if current is not None and current[0] != job_id:
        _parents.set(job_id, current[0])
        _roots.set(job_id, current[1])
    # args / kwargs are copied by task_event, once for the fields and the payload; None fields are left out there.
    payload = {"name": function, "args": args, "kwargs": kwargs, "queue": queue, "options": {}}
    fields = _with_links(job_id, {"name": function, "queue": queue, "args": args, "kwargs": kwargs, "retries": max(0, (job_try or 1) - 1), "eta": eta})
    agent.task_event(ENGINE, "enqueued", job_id, fields=fields, payload=payload, occurred_at=at, keeps_types=KEEPS_TYPES)


def _eta(kwargs: dict[str, Any], at: float) -> str | None:
    """When a deferred job is due (ISO 8601): `_defer_until` (a datetime), or `_defer_by` (a
    timedelta or seconds) from the enqueue."""
    until, by = kwargs.get("_defer_until"), kwargs.get("_defer_by")
    if until is not None:
        return iso(until)
    if by is not None:  # evaluated in the caller's enqueue: iso / iso_epoch never raise into it
        return iso_epoch(by.total_seconds() if hasattr(by, "total_seconds") else by, plus=at)
    return None


def _wrap_enqueue(original: Any, agent: Agent) -> Any:
    @functools.wraps(original)
    async def enqueue_job(self: Any, function: str, *args: Any, **kwargs: Any) -> Any:
        at = time.time()
        if agent.enabled and kwargs.get("_job_id") is None:
            kwargs["_job_id"] = recorded_job_id()
        job = await original(self, function, *args, **kwargs)
        if job is not None:
            adopt_broker(agent, lambda: redis_url(self))
            call_kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
            _record_enqueued(agent, job.job_id, function, args, call_kwargs, kwargs.get("_queue_name") or self.default_queue_name, kwargs.get("_job_try"), at,
                             _eta(kwargs, at))
        return job

    enqueue_job.__z4j__ = True  # type: ignore[attr-defined]
    return enqueue_job


def install(**agent_options: Any) -> None:
    """Records jobs enqueued through any ArqRedis in this process. Idempotent."""
    global _installed
    from arq.connections import ArqRedis

    with _lock:
        if _installed:
            return
        _check()
        ArqRedis.enqueue_job = _wrap_enqueue(ArqRedis.enqueue_job, get_agent(**agent_options))
        _installed = True


def instrument_pool(pool: Any, **agent_options: Any) -> Any:
    """Records jobs enqueued through this pool only; returns it."""
    _check()
    if _installed or getattr(pool.__dict__.get("enqueue_job"), "__z4j__", False):
        return pool
    bound = _wrap_enqueue(type(pool).enqueue_job, get_agent(**agent_options))
    pool.enqueue_job = functools.partial(bound, pool)
    pool.enqueue_job.__z4j__ = True  # type: ignore[attr-defined]
    return pool


# ---- worker ----------------------------------------------------------------------------------

class _Worker:
    def __init__(self, agent: Agent, queue: str, concurrency: int | None) -> None:
        self.agent = agent
        self.queue = queue
        self.concurrency = concurrency
        self.name = worker_name(ENGINE)
        self.flight = InFlight()
        self.stop_heartbeat = None
        self.lock = threading.Lock()
        self.broker_url = ""
        self.pool: Any = None  # the worker's ArqRedis and its loop: where a retry is enqueued
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_commands = None
        self.retry_jobs = True  # the worker's setting: arq fails a job raising Retry when it is off

    def online(self, ctx: dict[str, Any] | None = None) -> None:
        import arq

        self.name = worker_name(ENGINE)
        self.pool = (ctx or {}).get("redis")
        self.loop = asyncio.get_running_loop()
        commands = CommandListener(self.agent, ENGINE, self.name, self.broker_url if self.pool is not None else "", {"retry": self.retry}, queues=[self.queue])
        announce = commands.announcement()
        self.agent.worker_event(ENGINE, "worker-online", self.name, fields={"software": f"arq {getattr(arq, '__version__', '')}", "queues": [self.queue], "concurrency": self.concurrency, "commands": announce})
        self.stop_heartbeat = self.agent.start_heartbeat(ENGINE, self.name, lambda: {**self.flight.stats(self.concurrency), "commands": announce})
        self.stop_commands = commands.start()
        atexit.register(guarded(self.offline))

    def retry(self, args: dict[str, Any]) -> dict[str, Any]:
        """Runs on the command thread: the enqueue runs on the worker's loop, waited for at most 10 s."""
        job_id, queue = str(args["taskId"]), args.get("queue") or self.queue
        call = self.pool.enqueue_job(str(args["name"]), *(args.get("args") or []), _job_id=job_id, _queue_name=queue, **(args.get("kwargs") or {}))
        job = asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=10)
        if job is None:
            raise CommandError(f"arq already has a job {job_id}")
        return {"newTaskId": job.job_id, "queue": queue}

    def offline(self) -> None:
        with self.lock:
            stop, self.stop_heartbeat = self.stop_heartbeat, None
        if stop is not None:
            say_offline(self.agent, ENGINE, self.name, (stop, self.stop_commands), self.flight.stats(self.concurrency))

    def wrap(self, name: str, coroutine: Any, timeout_s: float | None) -> Any:
        from arq.worker import Retry

        w = self

        @functools.wraps(coroutine)
        async def job(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            if not w.agent.enabled:
                return await coroutine(ctx, *args, **kwargs)
            job_id = str(ctx.get("job_id") or "")
            attempt = max(0, int(ctx.get("job_try") or 1) - 1)
            base = _with_links(job_id, {"name": name, "queue": w.queue, "retries": attempt})
            w.started(job_id, base, args, kwargs, attempt)
            token = _current.set((job_id, _roots.get(job_id) or job_id))
            t0 = time.monotonic()
            w.flight.start()
            outcome: tuple[str, dict[str, Any]] = ("failed", {})
            try:
                result = await coroutine(ctx, *args, **kwargs)
                runtime = round(time.monotonic() - t0, 6)
                outcome = ("succeeded", {"runtime": runtime} if result is None else {"result": result, "runtime": runtime})
                return result
            except Retry as exc:
                cause = exc.__cause__ or exc.__context__  # `raise Retry(...) from err`: the reason
                reason = {"exception": exception_text(cause) if cause else repr(exc), "traceback": traceback_text(cause)}
                # Without retry_jobs arq fails the job instead.
                outcome = ("retried", reason) if w.retry_jobs else ("failed", {**reason, "runtime": round(time.monotonic() - t0, 6)})
                raise
            except asyncio.CancelledError as exc:
                elapsed = time.monotonic() - t0
                if timeout_s and elapsed >= timeout_s - 0.05:
                    outcome = ("failed", {"exception": f"TimeoutError: the job ran past its timeout of {timeout_s}s", "timedOut": True, "runtime": round(elapsed, 6)})
                else:  # aborted (Job.abort), or the worker shutting down
                    outcome = ("revoked", {"exception": exception_text(exc) or "CancelledError"})
                raise
            except Exception as exc:
                outcome = ("failed", {"exception": exception_text(exc), "traceback": traceback_text(exc), "runtime": round(time.monotonic() - t0, 6)})
                raise
            finally:
                _current.reset(token)
                # A Retry (arq's own way to ask for another run) and an abort are no failures.
                w.flight.end(failed=outcome[0] == "failed")
                w.finished(job_id, outcome[0], {**base, **outcome[1]})

        job.__z4j_worker__ = w  # type: ignore[attr-defined]  (how the worker's finish_failed_job finds it)
        return job

    @guarded
    def ended_unrun(self, job_id: str, result_data: Any, deserializer: Any) -> None:
        """A job arq ended without running its function (Worker.finish_failed_job): the reason is
        the exception arq stored as its result."""
        if not self.agent.enabled:
            return
        from arq.jobs import deserialize_result

        name, attempt, reason = None, 0, None
        try:
            r = deserialize_result(result_data, deserializer=deserializer) if result_data is not None else None
        except Exception:  # still reported, without the reason
            r = None
        if r is not None:
            name = r.function if r.function and r.function != "<unknown>" else None
            attempt, reason = max(0, int(r.job_try or 1) - 1), r.result
        text = exception_text(reason) if isinstance(reason, BaseException) else None
        fields = _with_links(job_id, {"name": name, "queue": self.queue, "retries": attempt, "exception": text})
        if isinstance(reason, asyncio.CancelledError):
            kind = "revoked"
            fields["reason"] = "aborted before it started"
        elif text is not None and text.endswith("job expired"):
            kind = "expired"
        else:
            kind = "failed"  # out of tries, an unknown function, a job that does not deserialise
        self.agent.task_event(ENGINE, kind, job_id, fields=fields, worker=self.name)

    @guarded
    def started(self, job_id: str, base: dict[str, Any], args: tuple, kwargs: dict, attempt: int) -> None:
        fields, payload = dict(base), None
        if attempt == 0 and not enqueue_recorded(job_id):  # a producer without the agent: the worker's copy (first write wins)
            fields["args"], fields["kwargs"] = args, kwargs
            payload = {"name": base["name"], "args": args, "kwargs": kwargs, "queue": self.queue, "options": {}}
        self.agent.task_event(ENGINE, "started", job_id, fields=fields, payload=payload, worker=self.name, keeps_types=KEEPS_TYPES)

    @guarded
    def finished(self, job_id: str, kind: str, fields: dict[str, Any]) -> None:
        if kind == "succeeded" and "result" not in fields:  # a None result: the fields hold nothing of the job's, no snapshot
            self.agent.own_event(ENGINE, kind, job_id, fields, self.name)
        else:
            self.agent.task_event(ENGINE, kind, job_id, fields=fields, worker=self.name)


def _get(settings: Any, key: str, default: Any = None) -> Any:
    return settings.get(key, default) if isinstance(settings, dict) else getattr(settings, key, default)


def _set(settings: Any, key: str, value: Any) -> None:
    if isinstance(settings, dict):
        settings[key] = value
    else:
        setattr(settings, key, value)


def _replace(obj: Any, **changes: Any) -> Any:
    """arq's Function / CronJob: a NamedTuple in some releases, a dataclass in others."""
    import dataclasses

    return dataclasses.replace(obj, **changes) if dataclasses.is_dataclass(obj) else obj._replace(**changes)


def instrument(settings: Any, **agent_options: Any) -> Any:
    """Instruments a WorkerSettings class (or dict) in place and returns it:

        class WorkerSettings: ...
        z4j_agent.arq.instrument(WorkerSettings)
    """
    from arq.worker import func

    _check()
    if _get(settings, "__z4j__"):
        return settings
    url = redis_settings_url(_get(settings, "redis_settings"))
    agent_options.setdefault("broker_url", url)
    agent = get_agent(**agent_options)
    install()
    from arq.constants import default_queue_name

    w = _Worker(agent, _get(settings, "queue_name") or default_queue_name, _get(settings, "max_jobs", 10))
    w.broker_url = url
    w.retry_jobs = bool(_get(settings, "retry_jobs", True))
    default_timeout = _get(settings, "job_timeout", 300)
    default_timeout = default_timeout.total_seconds() if hasattr(default_timeout, "total_seconds") else default_timeout

    functions = []
    for f in _get(settings, "functions", []) or []:
        fn = func(f)
        functions.append(_replace(fn, coroutine=w.wrap(fn.name, fn.coroutine, fn.timeout_s or default_timeout)))
    _set(settings, "functions", functions)
    crons = _get(settings, "cron_jobs")
    if crons:
        _set(settings, "cron_jobs", [_replace(c, coroutine=w.wrap(c.name, c.coroutine, c.timeout_s or default_timeout)) for c in crons])

    on_startup, on_shutdown = _get(settings, "on_startup"), _get(settings, "on_shutdown")

    async def startup(ctx: dict[str, Any]) -> None:
        guarded(w.online)(ctx)
        if on_startup:
            await on_startup(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        try:
            if on_shutdown:
                await on_shutdown(ctx)
        finally:
            # In a thread, not on the loop: with the destination down the goodbye's flush waits
            # out Z4J_EXIT_FLUSH_TIMEOUT, and the loop still has the worker's own closing to run.
            try:
                await asyncio.to_thread(guarded(w.offline))
            except Exception:
                guarded(w.offline)()  # no thread to be had: said here (atexit would otherwise)

    _set(settings, "on_startup", startup)
    _set(settings, "on_shutdown", shutdown)
    _set(settings, "__z4j__", True)
    _observe_unrun_jobs()
    return settings


def _observe_unrun_jobs() -> None:
    """Wraps arq's Worker.finish_failed_job once: arq calls it only for jobs it ends before their
    function runs, which the function's wrapper never sees. A worker is the agent's when one of
    its functions is (its settings were instrumented)."""
    from arq.worker import Worker

    with _lock:
        original = Worker.finish_failed_job
        if getattr(original, "__z4j__", False):
            return

        @functools.wraps(original)
        async def finish_failed_job(self: Any, job_id: str, result_data: Any) -> None:
            await original(self, job_id, result_data)
            try:
                w = next((f.coroutine.__z4j_worker__ for f in self.functions.values() if hasattr(f.coroutine, "__z4j_worker__")), None)
            except Exception:  # never into arq's worker
                w = None
            if w is not None:
                w.ended_unrun(job_id, result_data, getattr(self, "job_deserializer", None))

        finish_failed_job.__z4j__ = True  # type: ignore[attr-defined]
        Worker.finish_failed_job = finish_failed_job
