"""RQ: run workers as `rq worker -w z4j_agent.rq.Z4jWorker` (or `Z4jSimpleWorker`), and call
`z4j_agent.rq.install()` once in processes that enqueue jobs (or `install_queue(queue)` for one
queue).

RQ has no signals: the worker class is RQ's own extension point (its handle_job_* methods run in
the work horse, or in the worker when the horse died). Links come from RQ dependencies
(`depends_on` → parentId / dependsOn) and from jobs enqueued inside a running job
(`get_current_job()` → parentId); the workflow's root travels in the job's `meta`
(`z4j_root_id`, `z4j_parent_id`), which RQ saves with the job, as is the agent's count of the
job's attempts (`z4j_attempt`, for the job `z4j_id`: z4j's retry clones a job's meta to a new
id, which starts at its own first attempt). A job run again under its id after it ended (RQ's
requeue of a failed job, z4j's requeue of dead letters, `Repeat`) starts a new attempt: the
service moves a task's state only forward within one attempt."""

from __future__ import annotations

import threading
import time
from typing import Any

from ._common import InFlight, Roots, clean, exception_text, guarded, iso, iso_epoch, last_line, redis_url, require, traceback_text, version_tuple
from .commands import CommandError
from .core import Agent, adopt_broker, get_agent
from .core import policies  # the module: the package's `policy` is the decorator
from .os_signals import reraise_if_from_a_signal_handler, threads_without_process_signals
from .running import RunningTasks

ENGINE = "rq"
MIN_VERSION = (2, 1)  # should_retry and a returned Retry (handle_job_retry)
# RQ pickles a job's call (its default serializer), and z4j's retries and schedules write RQ jobs
# pickled too: the job received its arguments' Python types, so a retry payload JSON would change
# (an int key, a nested tuple, an IntEnum) is left out. With a JSON serializer (Queue(serializer=
# JSONSerializer)) the job received them changed already: left out all the same, which costs only
# the retry of such a call.
KEEPS_TYPES = True

_lock = threading.Lock()
_installed = False
_roots = Roots()


# Wakes a worker's pub/sub thread to let it end (Z4jWorker.unsubscribe); RQ's handle_command
# ignores a command it does not know.
_WAKE_PUBSUB_THREAD = '{"command": "z4j-wake"}'


def _check() -> None:
    import rq

    require(ENGINE, rq.__version__, MIN_VERSION)


def attempt_of(job: Any) -> int:
    """0 on the first run: retries by exception (Retry(max=n)) and runs after the job ended are
    counted in meta by this module (for this job id only), retries by a returned Retry by RQ
    itself."""
    return _counted(job.meta or {}, job.id) + int(getattr(job, "number_of_retries", 0) or 0)


def _counted(meta: dict[str, Any], job_id: str) -> int:
    """The attempts this module counted for the job: none when the meta was another job's."""
    return int(meta.get("z4j_attempt", 0) or 0) if meta.get("z4j_id", job_id) == job_id else 0


def _ended(job: Any) -> None:
    """A job failed or stopped for good: should it be requeued (RQ's requeue, z4j's requeue of
    dead letters), that run is a new attempt. Saved now: RQ saves a failed job without its meta."""
    _next_attempt(job)
    job.save_meta()


def _next_attempt(job: Any) -> None:
    """The job's next run is a new attempt (counted in its meta; the caller sees that it is saved)."""
    meta = job.meta or {}
    job.meta = {**meta, "z4j_attempt": _counted(meta, job.id) + 1, "z4j_id": job.id}


def _place(job: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Adds the job's attempt (`attempt_of`) and its links in its workflow to `fields`, its meta
    read once; a link it has not is set to None (task_event leaves those out)."""
    meta = job.meta or {}
    deps = getattr(job, "_dependency_ids", None)
    fields["retries"] = _counted(meta, job.id) + int(getattr(job, "number_of_retries", 0) or 0)
    fields["rootId"] = meta.get("z4j_root_id")
    fields["parentId"] = meta.get("z4j_parent_id") or (deps[0] if deps else None)
    if deps:
        fields["dependsOn"] = list(deps)
    group = getattr(job, "group_id", None)  # rq.group.Group's members
    if group:
        fields["groupId"] = group
    return fields


@guarded
def _link_new_job(job: Any, queue: Any) -> None:
    """Before RQ saves a new job: where it sits in its workflow (its first dependency, else the
    job running in this process), remembered in its meta, with the mark that this producer
    records its call (its worker need not send it again)."""
    meta = job.meta if job.meta is not None else {}
    meta["z4j_payload"] = 1
    job.meta = meta
    if "z4j_root_id" in meta:
        return
    deps = list(getattr(job, "_dependency_ids", None) or [])
    parent_id = root_id = None
    if deps:
        parent_id = deps[0]
        root_id = _roots.of(parent_id)
        if root_id == parent_id:  # not sent from this process: ask the parent job itself
            try:
                from rq.job import Job

                parent = Job.fetch(parent_id, connection=queue.connection, serializer=queue.serializer)
                root_id = (parent.meta or {}).get("z4j_root_id", parent_id)
            except Exception as caught:
                reraise_if_from_a_signal_handler(caught)
                root_id = parent_id
    else:
        current = _current_job()
        if current is not None and current.id != job.id:
            parent_id = current.id
            root_id = (current.meta or {}).get("z4j_root_id", current.id)
    if parent_id:
        meta["z4j_root_id"] = root_id
        meta["z4j_parent_id"] = parent_id
    # The job's own root is remembered in record_enqueued, once RQ gave it its id (RQ makes a
    # new job's id, a uuid4, at its first read: reading it here would only move that cost here).


def _current_job() -> Any:
    """rq.get_current_job(), imported once (an import statement per job costs a lookup of its own)."""
    global _current_job
    from rq import get_current_job

    _current_job = get_current_job
    return get_current_job()


def _payload(job: Any, queue_name: str, args: Any, kwargs: Any) -> dict[str, Any]:
    options = clean({"timeout": job.timeout, "result_ttl": job.result_ttl, "failure_ttl": job.failure_ttl, "ttl": job.ttl, "description": job.description})
    return {"name": job.func_name, "args": args, "kwargs": kwargs, "queue": queue_name, "options": options}


@guarded
def record_enqueued(agent: Agent, job: Any, queue_name: str, eta: Any = None) -> None:
    if not agent.enabled or getattr(job, "started_at", None) is not None:
        return  # off, or a retry being rescheduled, not a new job: its worker reports `retried`
    args, kwargs = job.args or (), job.kwargs or {}  # copied by task_event, once for fields and payload
    fields = _place(job, {"name": job.func_name, "queue": queue_name, "args": args, "kwargs": kwargs})
    _roots.set(job.id, fields["rootId"] or job.id)  # for jobs that will depend on it (_link_new_job)
    if eta is not None:
        fields["eta"] = iso(eta)
    status = job.get_status(refresh=False)
    deferred = status is not None and str(getattr(status, "value", status)) == "deferred"
    if deferred:
        fields["deferred"] = True
    ttl = job.ttl
    if ttl and ttl > 0 and not deferred:
        # RQ gives the job's key `ttl` s each time it saves it into a queue or the schedule, unless a
        # worker took it first: a scheduled job's clock starts again when the scheduler queues it
        # (if the key is still there). A deferred job's starts again whenever its dependencies
        # end, which nobody knows yet: no expiry is sent for it (z4j would mark it early).
        now = time.time()
        start = now
        if eta is not None:
            try:
                at = eta.timestamp()  # a naive one read as local time, as RQ's ScheduledJobRegistry reads it
                start = at if now < at < now + ttl else now
            except Exception as caught:
                reraise_if_from_a_signal_handler(caught)
        fields["expires"] = iso_epoch(start, plus=ttl)
    # No func here: resolving it would import the job's module in a producer that may not have it.
    agent.task_event(ENGINE, "enqueued", job.id, fields=fields, payload=_payload(job, queue_name, args, kwargs), keeps_types=KEEPS_TYPES)


_funcs: dict[str, Any] = {}  # func_name → the function: RQ imports it anew on every job.func


def _func(job: Any) -> Any:
    """The job's function, for its policy: looked up once per function name (not for methods);
    not at all while no policy exists."""
    if not policies.in_use:
        return None
    try:
        if getattr(job, "instance", None) is not None:
            return job.func
        name = job.func_name
        found = _funcs.get(name)
        if found is None:
            if len(_funcs) >= 1024:
                _funcs.clear()
            found = _funcs[name] = job.func
        return found
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return None


class _Planned:
    """What _link_new_job reads of a job that enqueue_many is yet to create."""

    __slots__ = ("id", "meta", "_dependency_ids")

    def __init__(self, data: Any) -> None:
        self.id = data.job_id
        self.meta = dict(data.meta) if data.meta else {}
        deps = data.depends_on
        deps = getattr(deps, "dependencies", deps)  # an rq Dependency: its jobs
        deps = deps if isinstance(deps, (list, tuple)) else [deps] if deps else []
        self._dependency_ids = [getattr(d, "id", d) for d in deps if d]


def _wrap_queue_methods(target: Any, agent: Agent) -> None:
    """Wraps the enqueue paths on a Queue class or one queue: enqueue_job and schedule_job (every
    public path for one job ends in one of them), and enqueue_many (which creates and enqueues
    its jobs itself, as does Group.enqueue_many through it)."""
    enqueue_job, schedule_job, enqueue_many = target.enqueue_job, target.schedule_job, target.enqueue_many
    is_class = isinstance(target, type)

    def call(args: tuple, kwargs: dict) -> tuple[Any, Any]:
        rest = args[1:] if is_class else args
        return (args[0] if is_class else target), (rest[0] if rest else kwargs.get("job"))

    def wrapped_enqueue_job(*args: Any, **kwargs: Any) -> Any:
        if not agent.enabled:
            return enqueue_job(*args, **kwargs)
        queue, job = call(args, kwargs)
        _link_new_job(job, queue)
        out = enqueue_job(*args, **kwargs)
        adopt_broker(agent, lambda: redis_url(queue.connection))
        record_enqueued(agent, out if out is not None else job, queue.name)
        return out

    def wrapped_schedule_job(*args: Any, **kwargs: Any) -> Any:
        queue, job = call(args, kwargs)
        rest = args[2:] if is_class else args[1:]
        when = rest[0] if rest else kwargs.get("datetime")
        _link_new_job(job, queue)
        out = schedule_job(*args, **kwargs)
        adopt_broker(agent, lambda: redis_url(queue.connection))
        record_enqueued(agent, job, queue.name, when)
        return out

    def wrapped_enqueue_many(*args: Any, **kwargs: Any) -> Any:
        if not agent.enabled:
            return enqueue_many(*args, **kwargs)
        queue = args[0] if is_class else target
        rest = list(args[1:] if is_class else args)
        if rest:
            rest[0] = _linked_datas(rest[0], queue)
        elif "job_datas" in kwargs:
            kwargs["job_datas"] = _linked_datas(kwargs["job_datas"], queue)
        jobs = enqueue_many(queue, *rest, **kwargs) if is_class else enqueue_many(*rest, **kwargs)
        adopt_broker(agent, lambda: redis_url(queue.connection))
        for job in jobs:
            record_enqueued(agent, job, queue.name)
        return jobs

    wrapped_enqueue_job.__z4j__ = True  # type: ignore[attr-defined]
    target.enqueue_job = wrapped_enqueue_job
    target.schedule_job = wrapped_schedule_job
    target.enqueue_many = wrapped_enqueue_many


@guarded
def _linked(data: Any, queue: Any) -> Any:
    planned = _Planned(data)
    _link_new_job(planned, queue)
    return data._replace(meta=planned.meta)


def _linked_datas(datas: Any, queue: Any) -> list[Any]:
    """enqueue_many's job data, each with its links in its meta (as _link_new_job gives a job)."""
    out = []
    for data in datas:
        linked = _linked(data, queue)
        out.append(linked if linked is not None else data)
    return out


def install(**agent_options: Any) -> None:
    """Records every job enqueued in this process (all queues). Idempotent."""
    global _installed
    from rq import Queue

    with _lock:
        if _installed:
            return
        _check()
        agent = get_agent(**agent_options)
        _wrap_queue_methods(Queue, agent)
        _wrap_cancel(agent)
        _installed = True


def _wrap_cancel(agent: Agent) -> None:
    """Job.cancel (and rq's cancel_job) takes a job out of its queue for good; no worker sees it
    again, so this process reports it revoked."""
    from rq.job import Job

    cancel = Job.cancel

    def wrapped_cancel(job: Any, *args: Any, **kwargs: Any) -> Any:
        out = cancel(job, *args, **kwargs)
        if agent.enabled:
            _record_cancelled(agent, job)
        return out

    Job.cancel = wrapped_cancel


@guarded
def _record_abandoned(agent: Agent, job: Any) -> None:
    retry = bool(job.retries_left and job.retries_left > 0)  # RQ's own choice, made right after the handlers
    fields = {"name": job.func_name, "queue": job.origin, "retries": attempt_of(job),
              "exception": "AbandonedJobError: the worker running it stopped without finishing it (it died, or was killed)"}
    worker = job.worker_name or None
    if retry:
        _next_attempt(job)  # saved by RQ's retry
    agent.task_event(ENGINE, "retried" if retry else "failed", job.id, fields=fields, worker=worker)
    if not retry:
        _ended(job)


@guarded
def _record_cancelled(agent: Agent, job: Any) -> None:
    fields = {"name": job.func_name, "queue": job.origin, "retries": attempt_of(job), "reason": "cancelled in RQ (Job.cancel)"}
    agent.task_event(ENGINE, "revoked", job.id, fields=fields)


def install_queue(queue: Any, **agent_options: Any) -> Any:
    """Records jobs enqueued through this queue only; returns it."""
    _check()
    if _installed or getattr(queue.__dict__.get("enqueue_job"), "__z4j__", False):
        return queue
    agent = get_agent(broker_url=redis_url(queue.connection), **agent_options)
    _wrap_queue_methods(queue, agent)
    return queue


def _report_abandoned(job: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """The agent's worker's exception handler. RQ calls a worker's handlers for the jobs of dead
    workers it cleans up (their started registry), which no worker hook sees otherwise: they would
    stay started. Reports such a job (AbandonedJobError) as RQ is about to retry or fail it; lets
    every handler run (None). A module's function, not a bound method of the worker: RQ 3's
    SpawnWorker pickles a worker's handlers for its horse, and a worker does not pickle."""
    if exc_type is not None and exc_type.__name__ == "AbandonedJobError":
        agent = get_agent()  # the worker's: made as it started
        if agent.enabled:
            _record_abandoned(agent, job)


def _argument(args: tuple, kwargs: dict[str, Any], index: int, name: str) -> Any:
    """One of the arguments RQ passed a worker method after the job, by name or at its place
    (counted from the argument after the job); None when it passed neither."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else None


class Z4jWorkerMixin:
    """The agent's part of an RQ worker; mix it in front of any Worker class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check()
        self._z4j = get_agent(broker_url=redis_url(self.connection))
        install()  # jobs enqueued by jobs
        self._z4j_flight = InFlight()
        self._z4j_stop_heartbeat = None
        self._z4j_exc: BaseException | None = None
        self._z4j_t0 = 0.0
        # Whether the run that just ended failed, when its outcome was reported in this process
        # (a SimpleWorker, or a worker whose horse died); None when a work horse reported it.
        self._z4j_failed_here: bool | None = None
        self.push_exc_handler(_report_abandoned)

    # ---- worker lifecycle ---------------------------------------------------------------

    def register_birth(self) -> None:
        super().register_birth()
        self._z4j_online()

    @guarded
    def _z4j_online(self) -> None:
        import rq

        self._z4j.worker_event(ENGINE, "worker-online", self.name, fields={"pid": self.pid, "software": f"rq {rq.__version__}", "queues": self.queue_names(), "concurrency": 1})
        self._z4j_stop_heartbeat = self._z4j.start_heartbeat(ENGINE, self.name, lambda: self._z4j_flight.stats(1))

    def register_death(self) -> None:
        self._z4j_offline()
        super().register_death()

    def subscribe(self) -> None:
        # RQ's pub/sub thread waits on Redis for commands; a SIGTERM the kernel hands to it leaves
        # an idle worker's main thread in its blocking dequeue (BLMOVE or BLPOP), and the stop waits
        # for that to time out (z4j_agent.os_signals). Started here, it leaves the process's
        # signals to the main thread.
        with threads_without_process_signals():
            super().subscribe()

    def unsubscribe(self) -> None:
        # RQ 3.0 wakes its pub/sub thread by unsubscribing, then stops it, and redis-py 8's stop()
        # waits for the thread. A thread woken before it was asked to stop loops once more, and
        # waits RQ's 60 s for a subscription that will not come: the worker's stop took a minute,
        # one time in thirty. So the thread is asked first. Then it is woken by a message on its
        # own channel, from another connection, and left to close its subscription itself, before
        # RQ's unsubscribe: a thread woken by that UNSUBSCRIBE (or by anything that came first)
        # closed the connection while the UNSUBSCRIBE was being written on it, and the worker's
        # teardown failed (EBADF).
        thread = getattr(self, "pubsub_thread", None)
        if thread is not None and thread.is_alive():
            try:
                thread.stop(timeout=0)  # only asks: no wait
            except TypeError:  # redis-py before 8: stop() only asks
                thread.stop()
            try:
                self.connection.publish(self.pubsub_channel_name, _WAKE_PUBSUB_THREAD)
            except Exception:  # Redis away: RQ's unsubscribe meets the same and says so
                pass
            else:
                thread.join(timeout=1)
        super().unsubscribe()

    @guarded
    def _z4j_offline(self) -> None:
        if self._z4j_stop_heartbeat:
            self._z4j_stop_heartbeat()
        self._z4j.worker_event(ENGINE, "worker-offline", self.name, fields={"pid": self.pid, **self._z4j_flight.stats(1)})
        self._z4j.exit_flush()

    # The overrides below take RQ's arguments past the job as they come and pass them on: RQ adds
    # arguments to these methods between versions (3.0 an execution to perform_job and
    # handle_job_failure), and a fixed signature raised in the worker, which stopped.

    def execute_job(self, job: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._z4j.enabled:
            return super().execute_job(job, *args, **kwargs)
        self._z4j_flight.start()
        self._z4j_failed_here = None
        retries_left = job.retries_left  # as dequeued: a retry after an exception takes one
        try:
            return super().execute_job(job, *args, **kwargs)
        finally:
            failed = self._z4j_failed_here
            self._z4j_flight.end(failed if failed is not None else bool(self._z4j_run_failed(job, retries_left)))

    @guarded
    def _z4j_run_failed(self, job: Any, retries_left: int | None) -> bool:
        """Whether the job's run, just ended, failed: RQ failed it, or retried it after an
        exception (a returned Retry and a Repeat take none of its retries_left). Read from Redis:
        the handlers ran in the work horse, another process (or here, when the horse died). A
        stopped job is not a failure, as cancelled tasks are not in the other engines' counts."""
        status, left = self.connection.hmget(job.key, "status", "retries_left")
        if status is not None and status.decode() == "failed":
            return True
        return retries_left is not None and left is not None and int(left) < retries_left

    # ---- a job (in the work horse) ------------------------------------------------------

    def perform_job(self, job: Any, *args: Any, **kwargs: Any) -> bool:
        if not self._z4j.enabled:
            return super().perform_job(job, *args, **kwargs)
        self._z4j_started(job)
        if self.is_horse:
            # Sent before the job runs: a horse that dies (os._exit, SIGKILL, the OOM killer)
            # loses what it buffered, and the worker that forked it reports only the outcome (it
            # fails a job whose horse died): without its start the job would look as if it never
            # ran, and where no agent recorded the enqueue its call would be lost too. Not
            # recorded by the worker before the fork: the job's policy (skip, sample) is looked up
            # through its function, which the worker never imports (each horse does). One more
            # flush per job, in horses only (a SimpleWorker has nothing to lose this way).
            self._z4j_flush_horse()
        try:
            return super().perform_job(job, *args, **kwargs)
        finally:
            if self.is_horse:  # the horse leaves with os._exit: no atexit, so deliver now
                self._z4j_flush_horse()

    def _z4j_flush_horse(self) -> None:
        # Bounded tighter than at exit, and not patient: while the destination is down (as the
        # worker that forked it knew, or as this flush finds) every job would wait the whole
        # timeout. What is not sent then is lost with the horse.
        self._z4j.flush(min(self._z4j.config.exit_flush_timeout, 0.5) if self._z4j.config else 0, patient=False)

    @guarded
    def _z4j_started(self, job: Any) -> None:
        """Reports the job's start (with the call where no agent recorded the enqueue)."""
        self._z4j_exc = None
        self._z4j_t0 = time.monotonic()
        fields = _place(job, {"name": job.func_name, "queue": job.origin})
        payload = None
        if fields["retries"] == 0 and not (job.meta or {}).get("z4j_payload"):
            # Enqueued where no agent recorded the call (`rq enqueue`, rq's cron, a producer
            # without install()): the worker's copy, so the task shows its arguments.
            args, kwargs = job.args or (), job.kwargs or {}
            fields["args"], fields["kwargs"] = args, kwargs
            payload = _payload(job, job.origin, args, kwargs)
        self._z4j.task_event(ENGINE, "started", job.id, fields=fields, payload=payload, worker=self.name, func=_func(job), keeps_types=KEEPS_TYPES)

    def _z4j_runtime(self) -> float | None:
        return round(time.monotonic() - self._z4j_t0, 6) if self._z4j_t0 else None

    def handle_job_success(self, job: Any, *args: Any, **kwargs: Any) -> Any:
        if self._z4j.enabled:
            self._z4j_succeeded(job)
        return super().handle_job_success(job, *args, **kwargs)

    @guarded
    def _z4j_succeeded(self, job: Any) -> None:
        fields = {"name": job.func_name, "queue": job.origin, "retries": attempt_of(job), "result": getattr(job, "_result", None), "runtime": self._z4j_runtime()}
        self._z4j.task_event(ENGINE, "succeeded", job.id, fields=fields, worker=self.name, func=_func(job))  # None fields are left out there
        self._z4j_failed_here = False
        if getattr(job, "repeats_left", None):  # Repeat runs it again (saving it, meta included)
            _next_attempt(job)

    def handle_exception(self, job: Any, *exc_info: Any) -> Any:
        self._z4j_exc = exc_info[1] if len(exc_info) > 1 else None
        return super().handle_exception(job, *exc_info)

    def handle_job_failure(self, job: Any, *args: Any, **kwargs: Any) -> Any:
        if self._z4j.enabled:  # off, the agent writes nothing to the job either (its attempt count in meta)
            self._z4j_failed(job, _argument(args, kwargs, 2, "exc_string") or "")
        return super().handle_job_failure(job, *args, **kwargs)

    @guarded
    def _z4j_failed(self, job: Any, exc_string: str) -> None:
        from rq.timeouts import JobTimeoutException

        exc, self._z4j_exc = self._z4j_exc, None
        stopped = getattr(self, "_stopped_job_id", None) == job.id
        retry = bool(job.should_retry) and not stopped
        attempt = attempt_of(job)
        fields: dict[str, Any] = {
            "name": job.func_name, "queue": job.origin, "retries": attempt,
            "exception": exception_text(exc) or last_line(exc_string), "traceback": exc_string or traceback_text(exc),
        }
        if stopped:
            kind = "revoked"
            fields["exception"] = fields["exception"] or "stopped"
        elif retry:
            kind = "retried"
            _next_attempt(job)  # saved by RQ's requeue
        else:
            kind = "failed"
            fields["runtime"] = self._z4j_runtime()
            if isinstance(exc, JobTimeoutException):
                fields["timedOut"] = True
        self._z4j.task_event(ENGINE, kind, job.id, fields=clean(fields), worker=self.name, func=_func(job))
        self._z4j_failed_here = not stopped  # an exception, retried or not; a stop is no failure
        if kind != "retried":
            _ended(job)

    def handle_job_retry(self, job: Any, *args: Any, **kwargs: Any) -> Any:
        if self._z4j.enabled:
            self._z4j_retry_returned(job, _argument(args, kwargs, 1, "retry"))
        return super().handle_job_retry(job, *args, **kwargs)

    @guarded
    def _z4j_retry_returned(self, job: Any, retry: Any) -> None:
        exhausted = bool(job.number_of_retries and job.number_of_retries >= retry.max)
        fields = {"name": job.func_name, "queue": job.origin, "retries": attempt_of(job)}
        if exhausted:
            fields.update(exception="RetriesExhausted: the job asked for a retry past its maximum", runtime=self._z4j_runtime())
        self._z4j.task_event(ENGINE, "failed" if exhausted else "retried", job.id, fields=clean(fields), worker=self.name, func=_func(job))
        self._z4j_failed_here = exhausted  # a Retry the job asked for is no failure
        if exhausted:
            _ended(job)


class JobStopped(BaseException):
    """Raised in a Z4jSimpleWorker's job by RQ's stop-job (z4j's terminate). A BaseException, so
    the job's own `except Exception` does not swallow it; RQ catches everything a job raises."""


def _classes() -> tuple[type, type]:
    from rq.worker import SimpleWorker, Worker

    class Z4jWorker(Z4jWorkerMixin, Worker):
        """`rq worker -w z4j_agent.rq.Z4jWorker`: forks a work horse per job, like RQ's Worker."""

    class Z4jSimpleWorker(Z4jWorkerMixin, SimpleWorker):
        """`rq worker -w z4j_agent.rq.Z4jSimpleWorker`: runs jobs in the worker process.

        RQ's stop-job command (how z4j terminates an RQ job) kills the job's work horse, which a
        simple worker does not have: RQ's own SimpleWorker lets the job run on. This one raises
        JobStopped in the thread running the job instead, at its next Python instruction (as
        Dramatiq's TimeLimit does; a blocking call such as one long sleep delays it), and RQ
        records the job as stopped."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._z4j_running = RunningTasks()

        def execute_job(self, job: Any, *args: Any, **kwargs: Any) -> Any:
            self._z4j_running.started_thread(job.id)
            try:
                return super().execute_job(job, *args, **kwargs)
            finally:
                self._z4j_running.finished(job.id)  # a stop not delivered yet must not hit the worker's loop

        def kill_horse(self, sig: Any = None) -> None:
            # Called by RQ's stop-job handler (its pub/sub thread), right after it set _stopped_job_id.
            job_id = getattr(self, "_stopped_job_id", None)
            if job_id:
                try:
                    self._z4j_running.stop(job_id, JobStopped, wait=0)  # not waiting here: RQ's command thread
                except CommandError:
                    pass  # asked (it stops at its next instruction), or it already ended

    _at_module_level(Z4jWorker, Z4jSimpleWorker)
    return Z4jWorker, Z4jSimpleWorker


def _spawn_class() -> type:
    import rq
    from rq.worker import SpawnWorker

    if version_tuple(rq.__version__) < (3, 0):
        # Before 3.0 a SpawnWorker's horse is a plain rq.Worker, whatever the worker's class: the
        # agent would see none of its jobs run.
        raise ImportError("z4j's SpawnWorker needs RQ 3.0 or later")

    class Z4jSpawnWorker(Z4jWorkerMixin, SpawnWorker):
        """`rq worker -w z4j_agent.rq.Z4jSpawnWorker`: starts a new process per job instead of a
        fork (RQ's SpawnWorker, for platforms where fork is unsafe). The horse makes its own
        agent from the Z4J_* environment, which it inherits."""

    _at_module_level(Z4jSpawnWorker)
    return Z4jSpawnWorker


def _at_module_level(*classes: type) -> None:
    """Names classes made in a function as the module's own, where they are bound: RQ finds a
    worker class by that name (its `-w` option, and a SpawnWorker's horse unpickling it)."""
    for cls in classes:
        cls.__module__, cls.__qualname__ = __name__, cls.__name__


try:
    Z4jWorker, Z4jSimpleWorker = _classes()
except ImportError:  # RQ not installed: importing this module still works, using it does not
    pass
try:
    Z4jSpawnWorker = _spawn_class()
except ImportError:  # RQ not installed, or before 3.0
    pass
