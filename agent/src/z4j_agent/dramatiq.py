"""Dramatiq: add the middleware to the broker, in producers and workers:

    broker.add_middleware(z4j_agent.dramatiq.Z4jMiddleware())

A message's outcome is known only once the other middleware (Retries above all) had their say,
so a failed attempt is reported at ack (it was retried) or nack (it failed for good, and was
dead-lettered). Pipelines: the agent writes the next step's parent and root into its embedded
message (`pipe_target.options.z4j_parent_id / z4j_root_id`) when the pipeline is sent, so a
step knows its links in whichever process runs it. A message sent while a worker thread runs
one (by the actor, or by its callbacks) is that one's child (`options.z4j_sent_by /
z4j_root_id`). Groups with completion callbacks share `group_completion_uuid` → groupId.

Commands (docs/agent-protocol.md, Redis or RabbitMQ broker): a worker process's agent terminates
a message running in one of its threads by raising `Terminated` (a Dramatiq Interrupt) in that
thread, as Dramatiq's own TimeLimit does; the message is not retried (it is dead-lettered) and
reported revoked. A `cancel` (RabbitMQ, where the service cannot take one message out of its
queue) is remembered, and the message skipped when it comes: SkipMessage from
before_process_message, Dramatiq's own way for a middleware to drop a message (acked, never run,
reported revoked)."""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

from ._common import MAX_PENDING_SENDS, InFlight, clean, exception_text, guarded, hook_failed, iso_epoch, traceback_text, trim_oldest, worker_name
from .commands import CommandError, CommandListener
from .running import RunningTasks
from .core import get_agent
from .os_signals import reraise_if_from_a_signal_handler

ENGINE = "dramatiq"
MIN_VERSION = (1, 15)

# Options that link a message to others: a message without any has fields that depend only on its
# actor, queue and attempt (made once and shared, `_fields`).
_LINK_OPTIONS = frozenset(("z4j_root_id", "z4j_parent_id", "z4j_sent_by", "group_completion_uuid", "pipe_target"))
# Options that describe one delivery, not the call: left out of the retry payload.
_DELIVERY_OPTIONS = frozenset(("redis_message_id", "retries", "traceback", "requeue_timestamp", "eta", "z4j_parent_id", "z4j_root_id", "z4j_sent_by", "z4j_payload", "z4j_requeues",
                               "group_completion_uuid", "group_completion_callbacks"))


def _attempt(options: dict[str, Any]) -> int:
    """The attempt a delivery is: Dramatiq's retries, plus the times z4j put the message back from
    its dead letters (`z4j_requeues`, counted by the service as it requeues): a rerun of a requeued
    letter repeats its last retries, and would otherwise be taken for the attempt that ended."""
    return int(options.get("retries", 0) or 0) + int(options.get("z4j_requeues", 0) or 0)


try:
    import dramatiq
    from dramatiq.encoder import JSONEncoder as _JSONEncoder
    from dramatiq.errors import Retry as _Retry
    from dramatiq.middleware import Interrupt as _Interrupt
    from dramatiq.middleware import Middleware as _Base
    from dramatiq.middleware import SkipMessage as _SkipMessage
except ImportError:  # the module imports without Dramatiq; using the middleware needs it
    dramatiq = None
    _Base = object
    _Interrupt = BaseException
    _SkipMessage = _Retry = Exception


def _keeps_types() -> bool:
    """Whether Dramatiq's messages keep Python types: not with its JSONEncoder (the default), whose
    messages give the actor what JSON makes of its arguments, so the retry payload is exact as JSON
    makes it; with a PickleEncoder (dramatiq.set_encoder, process-wide) or another of the user's
    own, a payload JSON would change (an int key, a nested tuple, an IntEnum) is left out. Passed
    to task_event as it is: asked only for a payload that holds one."""
    try:
        return not isinstance(dramatiq.get_encoder(), _JSONEncoder)
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return True


class Terminated(_Interrupt):  # type: ignore[misc,valid-type]
    """Raised in the worker thread of a message terminated from z4j (a Dramatiq Interrupt: user
    code's `except Exception` does not swallow it). Added to the actor's `throws`, so Retries
    does not retry it."""


def _broker_url(broker: Any) -> str:
    client = getattr(broker, "client", None)  # RedisBroker
    if client is not None:
        from ._common import redis_url

        return redis_url(client)
    # RabbitmqBroker: pika parameters, one or a list (a cluster's nodes: a failover list for the agent too)
    params = getattr(broker, "parameters", None)
    return ";".join(filter(None, (_pika_url(p) for p in (params if isinstance(params, list) else [params]))))


def _pika_url(p: Any) -> str:
    if p is None or not getattr(p, "host", None):
        return ""
    import urllib.parse

    from .amqp_connect import share_context

    creds = getattr(p, "credentials", None)
    auth = f"{urllib.parse.quote(creds.username, safe='')}:{urllib.parse.quote(creds.password, safe='')}@" if getattr(creds, "username", None) else ""
    tls = getattr(p, "ssl_options", None)  # pika's SSLOptions: a context (not a URL's words)
    url = f"{'amqps' if tls else 'amqp'}://{auth}{p.host}:{p.port}/{urllib.parse.quote(p.virtual_host, safe='')}"
    if tls:
        share_context(url, tls.context, tls.server_hostname)
    return url


class Z4jMiddleware(_Base):  # type: ignore[misc]
    def __init__(self, **agent_options: Any) -> None:
        if dramatiq is None:
            raise RuntimeError("z4j_agent.dramatiq needs dramatiq installed (pip install 'z4j-agent[dramatiq]')")
        from ._common import require

        require(ENGINE, dramatiq.__version__, MIN_VERSION)
        self._options = agent_options
        self._agent = None
        self._lock = threading.Lock()
        # message id → (start, attempt, actor, its fields) while it runs: the fields of its
        # outcome are those of its start (made once per message; nobody changes them).
        self._running: dict[str, tuple[float, int, str, dict[str, Any]]] = {}
        self._outcome: dict[str, dict[str, Any]] = {}  # message id → a failed attempt, until ack / nack
        self._enqueued_at: dict[str, float] = {}
        self._shared_fields: dict[tuple[str, str, int], dict[str, Any]] = {}  # (actor, queue, attempt) → fields of messages without links
        self._moving: dict[str, None] = {}  # delayed messages the worker moves to their queue: not new enqueues (ordered: trim_oldest)
        self._flight = InFlight()
        self._worker = worker_name(ENGINE)
        self._concurrency: int | None = None
        self._stop_heartbeat = None
        self._running_threads = RunningTasks()
        self._skipping: set[str] = set()  # messages cancelled from z4j, between the skip and after_skip_message
        # The message a worker thread runs, or ran last (id, root): what it sends meanwhile (the
        # actor's own sends, and its on_success / on_failure, Retries' on_retry_exhausted and
        # group completion callbacks, sent after this middleware's after_process_message) is its
        # child. Kept until the thread's next message starts.
        self._current = threading.local()
        self._broker = None
        self._stop_commands = None

    def _agent_for(self, broker: Any) -> Any:
        # The hooks of every message read `self._agent or self._agent_for(broker)`: no call once it is made.
        if self._agent is None:
            self._agent = get_agent(broker_url=_broker_url(broker), **self._options)
        return self._agent

    # ---- producer ------------------------------------------------------------------------
    # The hooks every message passes through catch their own exceptions (hook_failed) instead of
    # being `guarded`: a wrapper is one more call, and these run several times per task.

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        try:
            if not (self._agent or self._agent_for(broker)).enabled:
                return
            # A worker may start it before after_enqueue runs: enqueued is now. (These maps hold one
            # key per message, set and popped by single dict operations, atomic under the GIL: no lock.)
            enqueued_at = self._enqueued_at
            enqueued_at[message.message_id] = time.time()
            if len(enqueued_at) > MAX_PENDING_SENDS:  # sends that raised: after_enqueue never came for them
                trim_oldest(enqueued_at, MAX_PENDING_SENDS * 9 // 10)
            options = message.options
            if not options.get("retries"):
                options["z4j_payload"] = 1  # this producer records the payload: the worker need not copy it again
            current = getattr(self._current, "message", None)
            if current is not None and current[0] != message.message_id and "z4j_parent_id" not in options and "z4j_sent_by" not in options:
                # Sent by the message this thread runs: its child (not a step that waits for it, as a pipeline's).
                options["z4j_sent_by"], options["z4j_root_id"] = current
            target = options.get("pipe_target")
            if isinstance(target, dict) and "z4j_parent_id" not in (target.get("options") or {}):
                root = options.get("z4j_root_id") or message.message_id
                # The next step is sent later, by whichever worker runs this one: tell it its links now.
                options["pipe_target"] = {**target, "options": {**(target.get("options") or {}), "z4j_parent_id": message.message_id, "z4j_root_id": root}}
        except Exception:
            hook_failed("before_enqueue")

    @guarded
    def before_delay_message(self, broker: Any, message: Any) -> None:
        if not (self._agent or self._agent_for(broker)).enabled:
            return  # after_enqueue, which forgets it, returns before that while the agent is off
        moving = self._moving
        moving[message.message_id] = None
        if len(moving) > MAX_PENDING_SENDS:  # an enqueue that raised: its after_enqueue never came
            trim_oldest(moving, MAX_PENDING_SENDS * 9 // 10)

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        try:
            agent = self._agent or self._agent_for(broker)
            if not agent.enabled:
                return
            mid, options = message.message_id, message.options
            if self._moving and mid in self._moving:
                self._moving.pop(mid, None)
                self._enqueued_at.pop(mid, None)
                return
            at = self._enqueued_at.pop(mid, None)
            attempt = _attempt(options)
            # copied by task_event, once with the payload's (and the fields: `_fields` may share them)
            fields = {**self._fields(message, attempt), "args": message.args, "kwargs": message.kwargs}
            if options.get("eta"):
                fields["eta"] = iso_epoch(options["eta"], per_second=1000)  # Dramatiq's eta: epoch ms
            payload = self._payload(message) if attempt == 0 else None
            agent.task_event(ENGINE, "enqueued", mid, fields=fields, payload=payload, occurred_at=at, keeps_types=_keeps_types)
        except Exception:
            hook_failed("after_enqueue")

    def _payload(self, message: Any) -> dict[str, Any]:
        options = {k: v for k, v in message.options.items() if k not in _DELIVERY_OPTIONS}
        return {"name": message.actor_name, "args": message.args, "kwargs": message.kwargs, "queue": _queue(message.queue_name), "options": options}

    def _fields(self, message: Any, attempt: int) -> dict[str, Any]:
        """The fields every event of the message has. Shared by the messages of an actor, queue
        and attempt that have no links (most): nobody changes them; a caller that adds fields
        copies them first."""
        o = message.options
        if _LINK_OPTIONS.isdisjoint(o):
            key = (message.actor_name, message.queue_name, attempt)
            fields = self._shared_fields.get(key)
            if fields is None:
                if len(self._shared_fields) >= 1024:
                    self._shared_fields.clear()
                fields = self._shared_fields[key] = {"name": message.actor_name, "queue": _queue(message.queue_name), "retries": attempt}
            return fields
        return self._linked_fields(message, attempt)

    def _linked_fields(self, message: Any, attempt: int) -> dict[str, Any]:
        o = message.options
        target = o.get("pipe_target")
        fields = {"name": message.actor_name, "queue": _queue(message.queue_name), "retries": attempt}
        if o.get("z4j_root_id") or isinstance(target, dict):
            fields["rootId"] = o.get("z4j_root_id") or message.message_id
        if o.get("z4j_parent_id"):  # a pipeline's step: it waits for the one before
            fields["parentId"] = o["z4j_parent_id"]
            fields["dependsOn"] = [o["z4j_parent_id"]]
        elif o.get("z4j_sent_by"):  # sent by a running message
            fields["parentId"] = o["z4j_sent_by"]
        if o.get("group_completion_uuid"):
            fields["groupId"] = o["group_completion_uuid"]
        return fields

    # ---- worker --------------------------------------------------------------------------

    @guarded
    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        agent = self._agent_for(broker)
        self._worker = worker_name(ENGINE)
        self._concurrency = getattr(worker, "worker_threads", None)
        queues = sorted(_queue(q) for q in (getattr(worker, "queues", None) or broker.get_declared_queues()))
        self._broker = broker
        url = _broker_url(broker)
        commands = CommandListener(agent, ENGINE, self._worker, url, {"terminate": self._terminate, "cancel": self._running_threads.cancel}, queues=queues)
        announce = commands.announcement()
        agent.worker_event(ENGINE, "worker-online", self._worker, fields={"software": f"dramatiq {dramatiq.__version__}", "queues": queues, "concurrency": self._concurrency, "commands": announce})
        self._stop_heartbeat = agent.start_heartbeat(ENGINE, self._worker, lambda: {**self._flight.stats(self._concurrency), "commands": announce})
        self._stop_commands = commands.start()
        # Dramatiq's worker processes are multiprocessing children, which leave through os._exit
        # (their atexit never runs): a second SIGTERM ends them there, before worker shutdown.
        import multiprocessing.util

        multiprocessing.util.Finalize(None, guarded(self._offline), exitpriority=100)
        atexit.register(guarded(self._offline))

    @guarded
    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._offline()

    def _offline(self) -> None:
        """Once per worker: at shutdown, or at exit when a second signal kills the process first."""
        with self._lock:
            if self._stop_heartbeat is None:
                return
            stop, self._stop_heartbeat = self._stop_heartbeat, None
        stop()
        if self._stop_commands is not None:
            self._stop_commands()
        agent = self._agent
        agent.worker_event(ENGINE, "worker-offline", self._worker, fields=self._flight.stats(self._concurrency))
        agent.exit_flush()

    def before_process_message(self, broker: Any, message: Any) -> None:
        # A message cancelled from z4j leaves through Dramatiq's own SkipMessage, the one
        # exception the agent raises into the host.
        try:
            started = self._start(broker, message)
        except Exception:
            hook_failed("before_process_message")
            return
        if started is False:
            self._skipping.add(message.message_id)
            raise _SkipMessage("cancelled from z4j")

    def _start(self, broker: Any, message: Any) -> bool | None:
        """Records and reports the message's start in this thread; False, with nothing recorded,
        when it was cancelled from z4j (skip it); None when the agent is off."""
        agent = self._agent or self._agent_for(broker)
        if not agent.enabled:
            return None
        message = _inner(message)
        mid, options = message.message_id, message.options
        if not self._running_threads.start_thread_unless_cancelled(mid):
            return False
        attempt = _attempt(options)
        fields = self._fields(message, attempt)
        self._running[mid] = (time.monotonic(), attempt, message.actor_name, fields)
        self._current.message = (mid, options.get("z4j_root_id") or mid)
        self._flight.start()
        if attempt == 0 and not options.get("z4j_payload"):  # a producer without the agent: the worker's copy
            started = {**fields, "args": message.args, "kwargs": message.kwargs}  # not `fields`: the outcome reuses those
            agent.task_event(ENGINE, "started", mid, fields=started, payload=self._payload(message), worker=self._worker, keeps_types=_keeps_types)
        else:
            agent.own_event(ENGINE, "started", mid, fields, self._worker)
        return True

    def _finish(self, message: Any) -> tuple[float | None, int, dict[str, Any]]:
        """The message's runtime, attempt and fields, as its start recorded them (no runtime, and
        its fields made now, when it did not start here)."""
        mid = message.message_id
        self._running_threads.finished(mid)
        run = self._running.pop(mid, None)
        if run is None:
            attempt = _attempt(message.options)
            return None, attempt, self._fields(message, attempt)
        return round(time.monotonic() - run[0], 6), run[1], run[3]

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None) -> None:
        try:
            agent = self._agent or self._agent_for(broker)
            if not agent.enabled:
                return
            message = _inner(message)
            runtime, attempt, base = self._finish(message)
            if runtime is not None:  # it started here (a middleware before this one may have raised first)
                # dramatiq.Retry is the actor asking for another run, no failure (README, "Workers"),
                # unless Retries fails the message instead (out of retries): counted at its nack.
                self._flight.end(exception is not None and not isinstance(exception, _Retry))
            if exception is not None:
                self._failed_attempt(message, base, runtime, exception)
            elif result is None:  # the usual no-op result: the event holds nothing of the task's
                agent.own_event(ENGINE, "succeeded", message.message_id, {**base, "runtime": runtime}, self._worker)
            else:
                agent.task_event(ENGINE, "succeeded", message.message_id, fields={**base, "result": result, "runtime": runtime}, worker=self._worker)
        except Exception:
            hook_failed("after_process_message")

    def _failed_attempt(self, message: Any, base: dict[str, Any], runtime: float | None, exception: BaseException) -> None:
        """Keeps a failed attempt's fields until ack (it will be retried) or nack (it failed)."""
        fields = {**base, "exception": exception_text(exception), "traceback": traceback_text(exception), "runtime": runtime}
        if isinstance(exception, Terminated):
            fields.update(reason="terminated from z4j", z4jTerminated=True)
        if type(exception).__name__ == "TimeLimitExceeded":
            fields["timedOut"] = True
        if runtime is not None and isinstance(exception, _Retry):
            fields["z4jRetryAsked"] = True  # not counted failed yet: its nack counts it
        self._outcome[message.message_id] = clean(fields)  # reported at ack (retried) or nack (failed): see the module's doc

    @guarded
    def after_skip_message(self, broker: Any, message: Any) -> None:
        runtime, _, base = self._finish(message)
        if runtime is not None:  # skipped after its start; AgeLimit and a cancel from z4j skip before it
            self._flight.end()
        fields = dict(base)  # base may be shared (`_fields`)
        if self._skipping and message.message_id in self._skipping:
            self._skipping.discard(message.message_id)
            kind, fields["reason"] = "revoked", "cancelled from z4j"
        else:  # AgeLimit skips a message past its max_age; other skips are cancellations.
            kind = "expired" if message.options.get("max_age") or message.failed else "revoked"
        self._agent_for(broker).task_event(ENGINE, kind, message.message_id, fields=fields, worker=self._worker)

    def after_ack(self, broker: Any, message: Any) -> None:
        if self._outcome:  # a failed attempt waits for its ack or nack (the usual ack: nothing failed); cannot raise
            self._retried(broker, message)

    @guarded
    def _retried(self, broker: Any, message: Any) -> None:
        message = _inner(message)
        if message.queue_name.endswith(".DQ"):
            # The ack of a delayed copy (same message id), which the worker's consumer thread sends
            # once it moved the copy to its queue (Worker.handle_delayed_messages): the moved
            # message may have run again and failed meanwhile, and this ack is not its outcome.
            return
        fields = self._outcome.pop(message.message_id, None)
        if fields is not None:  # a failed attempt that was not failed for good: retried
            fields.pop("runtime", None)
            fields.pop("z4jRetryAsked", None)
            self._agent_for(broker).task_event(ENGINE, "retried", message.message_id, fields=fields, worker=self._worker)

    @guarded
    def after_nack(self, broker: Any, message: Any) -> None:
        fields = self._outcome.pop(message.message_id, None)
        agent = self._agent_for(broker)
        if fields is not None and fields.pop("z4jRetryAsked", False):  # a Retry that Retries did not grant
            self._flight.failed_later()
        if fields is not None and fields.pop("z4jTerminated", False):  # stopped from z4j: revoked, not failed
            agent.task_event(ENGINE, "revoked", message.message_id, fields={**fields, "deadLettered": True}, worker=self._worker)
            return
        if fields is not None:
            agent.task_event(ENGINE, "failed", message.message_id, fields=fields, worker=self._worker)
        # The broker moved it to its dead-letter queue: kept in the timeline (the state stays failed).
        base = self._fields(message, fields.get("retries", 0) if fields else _attempt(message.options))
        agent.task_event(ENGINE, "rejected", message.message_id, fields={**base, "deadLettered": True}, worker=self._worker)

    # ---- commands ------------------------------------------------------------------------

    def _terminate(self, args: dict[str, Any]) -> dict[str, Any]:
        task_id = str(args["taskId"])
        name = (self._running.get(task_id) or (None, None, None, None))[2]
        if name is None or self._broker is None:
            raise CommandError(f"message {task_id} is not running in this worker (it finished, or never started here)")
        _not_retried(self._broker.get_actor(name))
        return self._running_threads.stop(task_id, Terminated)


def _not_retried(actor: Any) -> None:
    """Adds Terminated to the actor's `throws`: Retries then fails the message instead of retrying it."""
    throws = actor.options.get("throws")
    if throws is None:
        actor.options["throws"] = Terminated
    elif isinstance(throws, tuple):
        if Terminated not in throws:
            actor.options["throws"] = (*throws, Terminated)
    elif throws is not Terminated:
        actor.options["throws"] = (throws, Terminated)


def _inner(message: Any) -> Any:
    """The Message under a worker's MessageProxy, whose fields are read through `__getattr__`
    (each read a failed lookup first: about a microsecond, a dozen per hook); the message
    itself when it is not a proxy."""
    return getattr(message, "__dict__", _NO_DICT).get("_message", message)


_NO_DICT: dict[str, Any] = {}


def _queue(name: str) -> str:
    """The queue a message belongs to (its delay queue `<q>.DQ` is the same queue)."""
    return name[:-3] if name.endswith(".DQ") or name.endswith(".XQ") else name
