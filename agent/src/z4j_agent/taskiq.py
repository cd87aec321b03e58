"""taskiq: add the middleware to the broker, in producers and workers:

    broker = ListQueueBroker(url).with_middlewares(z4j_agent.taskiq.Z4jMiddleware())

Built on taskiq's middleware hooks. A retry middleware (SimpleRetryMiddleware,
SmartRetryMiddleware) re-sends a failed task under its own id from inside the failing run: the
agent sees that send and reports the run as retried, not failed. A task's labels travel in its
events (`labels`); tasks sent from inside a running task get the labels `z4j_parent_id` and
`z4j_root_id`, so their links survive the trip to whichever worker runs them.

Commands (docs/agent-protocol.md, Redis or RabbitMQ brokers): a worker process's agent terminates
a running task by cancelling the asyncio task that runs it (async task functions only: a sync
function runs in taskiq's thread pool, where nothing can stop it); it is reported revoked.
A `cancel` (RabbitMQ, where the service cannot take one message out of its queue; Redis, where
it cannot read the waiting messages) is remembered, and the message skipped as it comes out of
the broker (see _gate_listen): acked, never run, reported revoked.

z4j writes the messages of its retries and schedules as JSON. On a broker whose serializer is
not JSON (PickleSerializer, MSGPackSerializer, CBORSerializer, the user's own) the worker's agent
gives them to taskiq as that broker writes messages (_in_broker_format): a worker of such a
broker without the agent cannot read them."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import inspect
import json
import threading
import time
from collections import deque
from typing import Any

from ._common import (MAX_PENDING_SENDS, InFlight, clean, exception_text, guarded, hook_failed, iso_epoch, redis_url, require, say_offline,
                      traceback_text, trim_oldest, worker_name)
from .commands import CommandListener
from .running import RunningTasks
from .core import Agent, get_agent

ENGINE = "taskiq"
MIN_VERSION = (0, 11, 20)  # a retry scheduled through a schedule source keeps its task id
# At most this many messages handed to taskiq's receiver and not started are remembered (for a
# cancel to tell they are taken): the receiver holds its prefetched and waiting ones, and a message
# it never starts (unreadable, its task unknown) must not keep the rest from being forgotten.
HANDED_MAX = 1024

# The label taskiq's Context.requeue counts its requeues in.
_REQUEUES = "X-Taskiq-requeue"
# Labels that describe one delivery or the agent's own links: not part of a retry's call.
_AGENT_LABELS = frozenset(("z4j_parent_id", "z4j_root_id", "z4j_payload", "_retries", _REQUEUES))

# (task id, root id, attempt, times requeued by Context.requeue) of the run in progress in this context
_current: contextvars.ContextVar[tuple[str, str, int, int] | None] = contextvars.ContextVar("z4j_taskiq_task", default=None)

try:
    import taskiq
    from taskiq.abc.middleware import TaskiqMiddleware as _Base
except ImportError:  # the module imports without taskiq; using the middleware needs it
    taskiq = None
    _Base = object


try:
    from taskiq.labels import parse_label as _parse_label
except ImportError:  # a taskiq whose labels have no types
    _parse_label = None


def _typed(labels: dict[str, Any], types: dict[str, int] | None) -> dict[str, Any]:
    """The labels as the worker has them: taskiq sends them as text with their types and parses
    them back before the task runs, so the events of one task show one kind of value."""
    if not types or _parse_label is None:
        return labels
    typed = {}
    for key, value in labels.items():
        kind = types.get(key)
        if kind is not None and isinstance(value, str):
            try:
                value = _parse_label(value, kind)
            except Exception:  # a type this taskiq does not know: the text, as sent
                pass
        typed[key] = value
    return typed


# A message of the shape z4j writes for a retry or a schedule (backend: taskiqMessage), as JSON.
_PROBE = b'{"task_id": "z4j-probe", "task_name": "z4j.probe", "labels": {}, "labels_types": null, "args": [], "kwargs": {}}'


def _reads_z4j_json(broker: Any) -> bool:
    """Whether the broker reads a taskiq message written as JSON, as z4j writes one: yes with
    taskiq's JSONSerializer (the default) or ORJSONSerializer; no with PickleSerializer,
    MSGPackSerializer, CBORSerializer or one of the user's own, whose workers would log "Cannot
    parse message" and drop it. Asked of the broker's own formatter, once per worker."""
    try:
        return broker.formatter.loads(_PROBE).task_id == "z4j-probe"
    except Exception:
        return False


def _in_broker_format(formatter: Any) -> Any:
    """A function of one delivery (bytes, or an AckableMessage) that gives a message z4j wrote as
    JSON to this worker as its broker writes messages: what the formatter makes of the same
    TaskiqMessage. The call survives the trip as it is: taskiq's own formatter makes JSON's values
    of every call (model_dump(mode="json")) whatever the serializer, so a retry's payload, which
    is JSON, is the call the task had. Any other delivery goes as it came, after one byte's test
    (a pickle, msgpack or CBOR message never starts with "{")."""
    from taskiq.message import TaskiqMessage

    def convert(delivery: Any) -> Any:
        data = getattr(delivery, "data", delivery)
        if not isinstance(data, bytes) or data[:1] != b"{":
            return delivery
        try:
            encoded = formatter.dumps(TaskiqMessage(**json.loads(data))).message
            return encoded if data is delivery else type(delivery)(data=encoded, ack=delivery.ack)
        except Exception:  # not z4j's: the receiver handles it as it would have
            return delivery

    return convert


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("taskiq")
    except Exception:
        return "0"


def broker_url(broker: Any) -> str:
    pool = getattr(broker, "connection_pool", None)  # taskiq-redis
    if pool is not None:
        return redis_url(type("_Client", (), {"connection_pool": pool})())
    sentinel, master = getattr(broker, "sentinel", None), getattr(broker, "master_name", None)
    if sentinel is not None and master:  # taskiq-redis's *SentinelBroker: a client made, not connected
        return redis_url(sentinel.master_for(master))
    url = getattr(broker, "url", None)
    kwargs = getattr(broker, "_conn_kwargs", None)  # taskiq-aio-pika: connect_robust's arguments
    if not isinstance(kwargs, dict):
        return str(url or "")
    try:
        from aio_pika.connection import make_url
    except ImportError:  # not taskiq-aio-pika's
        return str(url or "")
    from .amqp_connect import share_context

    # As aio-pika's connect() makes it: the URL, or one of host, login, ..., with the TLS files
    # of ssl_options in its query.
    url = str(make_url(url, **{k: kwargs[k] for k in _CONNECT_URL_ARGUMENTS if k in kwargs}))
    share_context(url, kwargs.get("ssl_context"))  # a context the URL cannot say (used on amqps:// only)
    return url


_CONNECT_URL_ARGUMENTS = ("host", "port", "login", "password", "virtualhost", "ssl", "ssl_options")


def _queue_of(broker: Any, message: Any) -> str | None:
    """The queue the message waits in: what z4j shows, and purges, counts and retries into."""
    labels = message.labels or {}
    queues = getattr(broker, "_task_queues", None)
    if queues:
        # taskiq-aio-pika routes by routing key (one queue: always its own; several: the routing
        # label's), and a queue's routing key need not be its name: name the AMQP queue itself,
        # the one RabbitMQ and the service's driver know.
        if len(queues) == 1:
            return str(queues[0].name)
        key = labels.get(getattr(broker, "_label_for_routing", "queue_name"))
        found = next((q.name for q in queues if key is not None and (q.routing_key or q.name) == str(key)), key)
        return str(found) if found else None
    own = getattr(broker, "_queue_name", None)
    if isinstance(own, str) and isinstance(getattr(broker, "_conn_kwargs", None), dict):
        # taskiq-aio-pika before 0.6 (no Queue, no task_queues): its one queue (queue_name=,
        # kept private) takes every message it sends; a queue_name label routes nothing.
        return own
    q = labels.get("queue_name") or getattr(broker, "queue_name", None)
    return str(q) if q else None


class Z4jMiddleware(_Base):  # type: ignore[misc]
    def __init__(self, **agent_options: Any) -> None:
        if taskiq is None:
            raise RuntimeError("z4j_agent.taskiq needs taskiq installed (pip install 'z4j-agent[taskiq]')")
        require(ENGINE, _version(), MIN_VERSION)
        super().__init__()
        _watch_scheduled_retries()
        self._options = agent_options
        self._agent = None
        self._lock = threading.Lock()
        # Per-task maps: each key is set and popped by its own task's hooks, by single dict and
        # set operations (atomic under the GIL): no lock.
        self._sent_at: dict[str, float] = {}
        # Keyed by (task id, attempt): a retried task's next run can start before this one ends.
        # (task id, attempt) → its start and, when it has no user labels, its fields (reused by its outcome)
        self._running: dict[tuple[str, int], tuple[float, dict[str, Any] | None]] = {}
        self._retrying: set[tuple[str, int]] = set()
        self._errors: dict[tuple[str, int], BaseException] = {}
        self._flight = InFlight()
        self._worker = worker_name(ENGINE)
        self._stop_heartbeat = None
        self._running_tasks = RunningTasks()
        self._is_async: dict[str, bool] = {}  # task name → an async function (a terminate can cancel it)
        self._labels: dict[str, dict[str, Any]] = {}  # task id → its labels, while an async task runs (for terminate)
        # The last messages the gate (_gate_listen) handed to taskiq's receiver, and the ids of the
        # last tasks the receiver started: one handed more often than it started is held by the
        # receiver, and a cancel of it comes too late for the gate (_taken). Ids rather than an
        # order: the receiver may start its messages out of the order it took them (a middleware's
        # pre_execute that awaits), and may never start some (unreadable, an unknown task).
        self._handed: deque[Any] = deque(maxlen=HANDED_MAX)
        self._started_ids: deque[str] = deque(maxlen=HANDED_MAX)
        self._stop_commands = None

    @property
    def agent(self) -> Any:
        if self._agent is None:
            try:
                self._agent = get_agent(broker_url=broker_url(self.broker), **self._options)
            except Exception as err:  # the hooks read `enabled` unguarded: never let one raise into a kiq()
                self._agent = Agent(None, f"could not start ({type(err).__name__}: {err})")
        return self._agent

    # ---- lifecycle of the broker -------------------------------------------------------------

    def startup(self) -> None:
        guarded(self._startup)()

    def _startup(self) -> None:
        if not self.broker.is_worker_process:
            return
        self._worker = worker_name(ENGINE)
        url = broker_url(self.broker)
        # Before anything else that could fail: without it, z4j's retries and schedules are lost here.
        convert = None if _reads_z4j_json(self.broker) else _in_broker_format(self.broker.formatter)
        commands = CommandListener(self.agent, ENGINE, self._worker, url, {"terminate": self._terminate, "cancel": self._cancel})
        if commands.available or convert is not None:  # no commands, no cancels, a JSON broker: the broker is left alone
            self._gate_listen(convert)
        announce = commands.announcement()
        self.agent.worker_event(ENGINE, "worker-online", self._worker, fields={"software": f"taskiq {_version()}", "commands": announce})
        self._stop_heartbeat = self.agent.start_heartbeat(ENGINE, self._worker, lambda: {**self._flight.stats(None), "commands": announce})
        self._stop_commands = commands.start()
        atexit.register(guarded(self._offline))
        import multiprocessing.util  # taskiq's worker processes may leave through os._exit

        multiprocessing.util.Finalize(None, guarded(self._offline), exitpriority=100)

    async def shutdown(self) -> None:
        # In a thread, not on the event loop: with the destination down, the goodbye's flush
        # waits out Z4J_EXIT_FLUSH_TIMEOUT, and the loop has the host's own shutdown to run.
        try:
            await asyncio.to_thread(self._goodbye)
        except Exception:
            hook_failed("shutdown")  # atexit says goodbye instead

    @guarded
    def _goodbye(self) -> None:
        self._offline()
        if self._agent is not None:
            self._agent.exit_flush()

    def _offline(self) -> None:
        with self._lock:
            stop, self._stop_heartbeat = self._stop_heartbeat, None
        if stop is not None:
            say_offline(self.agent, ENGINE, self._worker, (stop, self._stop_commands), self._flight.stats(None))

    # ---- producer ------------------------------------------------------------------------------

    # The agent's parts are guarded once, here (guarded() makes a new wrapper each time it is called).
    def pre_send(self, message: Any) -> Any:
        if (self._agent or self.agent).enabled:  # the hooks of every message: the attribute, once made
            self._pre_send(message)
        return message

    @guarded
    def _pre_send(self, message: Any) -> None:
        current = _current.get()
        sent_at = self._sent_at
        sent_at[message.task_id] = time.time()
        if len(sent_at) > MAX_PENDING_SENDS:  # sends that raised: post_send never came for them
            trim_oldest(sent_at, MAX_PENDING_SENDS * 9 // 10)
        if current is not None and current[0] == message.task_id:
            self._retrying.add((current[0], current[2]))  # a retry middleware re-sending the running task
            return
        if _attempt(message) == 0:
            message.labels["z4j_payload"] = "1"  # this producer records the payload: the worker need not copy it again
        if current is not None and "z4j_parent_id" not in message.labels:
            message.labels["z4j_parent_id"] = current[0]
            message.labels["z4j_root_id"] = current[1]

    def post_send(self, message: Any) -> None:
        agent = self._agent or self.agent
        if agent.enabled:
            self._post_send(agent, message)

    @guarded
    def _post_send(self, agent: Any, message: Any) -> None:
        at = self._sent_at.pop(message.task_id, None)
        attempt = _attempt(message)
        fields = self._fields(message, attempt)
        payload = self._payload(message, fields) if attempt == 0 else None  # the labels as sent, text
        if fields["labels"]:
            fields["labels"] = _typed(fields["labels"], getattr(message, "labels_types", None))
        fields["args"], fields["kwargs"] = message.args, message.kwargs  # copied by task_event, once with the payload's
        delay = (message.labels or {}).get("delay")  # seconds: a delayed send (taskiq-redis, taskiq-aio-pika's delay queue)
        if delay is not None:
            fields["eta"] = iso_epoch(delay, plus=at or time.time())
        agent.task_event(ENGINE, "enqueued", message.task_id, fields=fields, payload=payload, occurred_at=at)

    @staticmethod
    def _payload(message: Any, fields: dict[str, Any]) -> dict[str, Any]:
        """The exact call, from the message and its fields (`_fields`: its queue and labels). The
        labels travel as taskiq sends them, text, with the types the worker parses them back to."""
        labels = fields["labels"] or {}
        options: dict[str, Any] = {"labels": labels}
        types = getattr(message, "labels_types", None)
        if labels and types:
            options["labels_types"] = {k: t for k, t in types.items() if k in labels}
        return {"name": message.task_name, "args": message.args, "kwargs": message.kwargs, "queue": fields["queue"], "options": options}

    def _fields(self, message: Any, attempt: int) -> dict[str, Any]:
        """The fields every event of the message has; those that are None are left out by
        task_event (or by clean(), where the caller adds more)."""
        labels = message.labels or {}
        # The user's labels, unless there are only the agent's (the usual message: one set comparison).
        user_labels = None if labels.keys() <= _AGENT_LABELS else {k: v for k, v in labels.items() if k not in _AGENT_LABELS}
        return {
            "name": message.task_name, "queue": _queue_of(self.broker, message), "retries": attempt,
            "parentId": labels.get("z4j_parent_id"), "rootId": labels.get("z4j_root_id"), "labels": user_labels,
        }

    # ---- worker --------------------------------------------------------------------------------

    def pre_execute(self, message: Any) -> Any:
        agent = self._agent or self.agent
        if agent.enabled:
            self._pre_execute(agent, message)
        # Started (and, for terminate, recorded as running): no longer one the receiver holds.
        self._started_ids.append(message.task_id)
        return message

    @guarded
    def _pre_execute(self, agent: Any, message: Any) -> None:
        labels = message.labels or {}
        attempt = _attempt(message)
        task_id = message.task_id
        _current.set((task_id, labels.get("z4j_root_id") or task_id, attempt, _requeues(message)))
        fields = self._fields(message, attempt)
        self._running[(task_id, attempt)] = (time.monotonic(), fields if fields["labels"] is None else None)
        self._track(message)
        self._flight.start()
        if attempt == 0 and not labels.get("z4j_payload"):  # a producer without the agent: the worker's copy
            payload = self._payload(message, fields)
            fields = {**fields, "args": message.args, "kwargs": message.kwargs}  # a copy: the outcome reuses `fields`
            agent.task_event(ENGINE, "started", task_id, fields=fields, payload=payload, worker=self._worker)
        elif fields["labels"] is None:  # only the message's own strings and numbers: no snapshot
            agent.own_event(ENGINE, "started", task_id, fields, self._worker)
        else:  # the user's labels: values of theirs
            agent.task_event(ENGINE, "started", task_id, fields=fields, worker=self._worker)

    def on_error(self, message: Any, result: Any, exception: BaseException) -> None:
        if (self._agent or self.agent).enabled:  # off, post_execute would never take it back out
            self._on_error(message, exception)

    @guarded
    def _on_error(self, message: Any, exception: BaseException) -> None:
        current = _current.get()
        self._errors[(message.task_id, current[2] if current else _attempt(message))] = exception

    def post_execute(self, message: Any, result: Any) -> None:
        agent = self._agent or self.agent
        if agent.enabled:
            self._post_execute(agent, message, result)

    @guarded
    def _post_execute(self, agent: Any, message: Any, result: Any) -> None:
        current = _current.get()
        # The label, unless a retry middleware bumped it on this very message: the context knows.
        attempt = current[2] if current is not None and current[0] == message.task_id else _attempt(message)
        key = (message.task_id, attempt)
        start, base = self._running.pop(key, None) or (None, None)
        exc = self._errors.pop(key, None) if self._errors else None
        retrying = bool(self._retrying) and key in self._retrying
        if retrying:
            self._retrying.discard(key)
        _current.set(None)
        terminated = self._running_tasks.finished(message.task_id)
        if self._labels:
            self._labels.pop(message.task_id, None)
        runtime = getattr(result, "execution_time", None)
        if runtime is None and start is not None:
            runtime = round(time.monotonic() - start, 6)
        failed = bool(getattr(result, "is_err", False))
        no_result = failed and _no_result(exc or getattr(result, "error", None))
        if no_result:  # NoResultError: the task asked not to store a result (Context.requeue raises it too)
            failed = False
        self._flight.end(failed)
        # Its start's fields when it had no user labels and still has none (`_fields` would make the same).
        labels = message.labels
        fields = {**base} if base is not None and (not labels or labels.keys() <= _AGENT_LABELS) else self._fields(message, attempt)
        if no_result and _requeues(message) > (current[3] if current is not None and current[0] == message.task_id else 0):
            # Context.requeue sent the message again (its next run is the next attempt): retried.
            fields["reason"] = "requeued by the task (Context.requeue)"
            agent.task_event(ENGINE, "retried", message.task_id, fields=clean(fields), worker=self._worker)
            return
        if not failed:
            fields["result"], fields["runtime"] = getattr(result, "return_value", None), runtime  # None ones are left out there
            if fields["result"] is None and fields["labels"] is None:  # only the message's own strings and numbers: no snapshot
                agent.own_event(ENGINE, "succeeded", message.task_id, fields, self._worker)
            else:
                agent.task_event(ENGINE, "succeeded", message.task_id, fields=fields, worker=self._worker)
            return
        exc = exc or getattr(result, "error", None)
        fields.update(exception=exception_text(exc), traceback=traceback_text(exc))
        if terminated:  # cancelled from z4j
            fields.update(runtime=runtime, reason="terminated from z4j")
            agent.task_event(ENGINE, "revoked", message.task_id, fields=clean(fields), worker=self._worker)
        elif retrying:
            agent.task_event(ENGINE, "retried", message.task_id, fields=clean(fields), worker=self._worker)
        else:
            fields["runtime"] = runtime
            if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
                fields["timedOut"] = True
            agent.task_event(ENGINE, "failed", message.task_id, fields=clean(fields), worker=self._worker)

    # ---- commands ------------------------------------------------------------------------------

    @guarded
    def _track(self, message: Any) -> None:
        """Where the task runs, for terminate: the asyncio task running this callback, when the
        function is a coroutine function (awaited in it)."""
        is_async = self._is_async.get(message.task_name)
        if is_async is None:  # asked once per task name
            task = self.broker.find_task(message.task_name)
            is_async = self._is_async[message.task_name] = inspect.iscoroutinefunction(getattr(task, "original_func", None))
        if is_async:
            self._running_tasks.started_asyncio(message.task_id, asyncio.current_task(), asyncio.get_running_loop())
            self._labels[message.task_id] = message.labels
        else:
            self._running_tasks.started_unstoppable(message.task_id, "a sync taskiq task runs in taskiq's thread pool, where z4j cannot stop it (async tasks only)")

    def _terminate(self, args: dict[str, Any]) -> dict[str, Any]:
        task_id = str(args["taskId"])
        labels = self._labels.get(task_id)
        if labels is not None:
            # Before the cancel: a retry middleware reads this label in its on_error, and taskiq
            # calls on_error in reverse middleware order, so the agent's own on_error may come
            # after the retry middleware's (Z4jMiddleware added before it).
            labels["retry_on_error"] = False
        return self._running_tasks.stop(task_id, asyncio.CancelledError)

    def _gate_listen(self, convert: Any = None) -> None:
        """Skips the messages cancelled from z4j where they come out of the broker, before taskiq's
        receiver takes them, by wrapping this broker's listen() (the receiver calls it after
        startup). Why not a middleware hook: taskiq (0.11-0.13) has no way for a middleware to
        skip a message. An exception from pre_execute escapes the receiver's callback and leaves
        the message unacked; the message pre_execute returns cannot change the function that
        runs (it was looked up before); a zero `timeout` label still starts the coroutine. Every
        broker's listen() is the one place all its messages pass, and a message acked and never
        yielded is gone. Costs one len() per message while nothing is cancelled. `convert`
        (_in_broker_format, on a broker that does not read JSON) is the same place's other use:
        the messages z4j wrote are given to the receiver as the broker writes them."""
        broker = self.broker
        listen = broker.listen
        if getattr(listen, "z4j_gated", False):  # a second startup
            return
        cancelled = self._running_tasks.cancelled
        lock = self._running_tasks.lock
        handed = self._handed
        cancelled_message = self._cancelled_message
        skip = self._skip

        async def gated_listen() -> Any:
            deliveries = listen()
            try:
                async for delivery in deliveries:
                    if convert is not None:
                        delivery = convert(delivery)
                    with lock:  # as a cancel decides (_cancel): skipped here, or handed on and seen there
                        message = cancelled_message(delivery) if cancelled else None
                        if message is None:
                            handed.append(delivery)
                    if message is not None:
                        await skip(delivery, message)
                        continue
                    yield delivery
            finally:
                close = getattr(deliveries, "aclose", None)
                if close is not None:
                    await close()

        gated_listen.z4j_gated = True  # type: ignore[attr-defined]
        broker.listen = gated_listen

    def _message_of(self, delivery: Any) -> Any:
        """The taskiq message a delivery carries (bytes, or an AckableMessage's data); raises when it is none."""
        return self.broker.formatter.loads(message=getattr(delivery, "data", delivery))

    def _cancelled_message(self, delivery: Any) -> Any:
        """The delivery's message when its task was cancelled from z4j, else None."""
        try:
            message = self._message_of(delivery)
        except Exception:  # not ours to judge: the receiver handles it as it would have
            return None
        return message if message.task_id in self._running_tasks.cancelled else None

    def _cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._running_tasks.cancel(args, self._taken)

    def _taken(self, task_id: str) -> str | None:
        """Why a cancel of the task comes too late, when its message is one the gate already handed
        to taskiq's receiver, which will run it: the receiver takes messages ahead of its free runners
        (--max-async-tasks, --max-prefetch; taskiq before 0.12.5 always one more, even with every
        runner busy). Called under the gate's lock, in the command thread (rarely: a cancel).
        Counts, as a retry of a task is handed (and started) again under the same id. Both windows
        hold the last HANDED_MAX: the starts since a message was handed are at most the messages
        handed since, so a handed message that started is still among the started ids."""
        handed = 0
        for delivery in list(self._handed):  # one C-level copy: the loop thread appends meanwhile
            try:
                handed += self._message_of(delivery).task_id == task_id
            except Exception:
                continue
        # No id is added meanwhile: pre_execute records a task as running, under the lock held
        # here, before it adds its id (and a running task was refused before this was asked).
        if handed > self._started_ids.count(task_id):
            return (f"task {task_id} was already taken by this worker's taskiq receiver, which will run it: a cancel "
                    "cannot stop it (terminate can, once it starts)")
        return None

    async def _skip(self, delivery: Any, message: Any) -> None:
        """A delivery of a task cancelled from z4j: acked (bytes need no ack) and reported revoked."""
        try:
            ack = getattr(delivery, "ack", None)
            if ack is not None:
                done = ack()
                if inspect.isawaitable(done):
                    await done
        except Exception:  # unacked, it comes back after a reconnect and is skipped again
            pass
        guarded(self.agent.task_event)(ENGINE, "revoked", message.task_id, fields={**self._fields(message, _attempt(message)), "reason": "cancelled from z4j"}, worker=self._worker)


_scheduling_watched = False


def _watch_scheduled_retries() -> None:
    """A retry middleware with a schedule source (SmartRetryMiddleware(schedule_source=…)) sends
    the failed task again through AsyncKicker.schedule_by_time, which runs no middleware: seen
    here instead, so the run is reported retried, not failed. Wrapped once per process."""
    global _scheduling_watched
    if _scheduling_watched:
        return
    from taskiq.kicker import AsyncKicker

    schedule_by_time = AsyncKicker.schedule_by_time

    async def watched(kicker: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            _note_scheduled_retry(kicker)
        except Exception:
            hook_failed("schedule_by_time")
        return await schedule_by_time(kicker, *args, **kwargs)

    AsyncKicker.schedule_by_time = watched
    _scheduling_watched = True


def _note_scheduled_retry(kicker: Any) -> None:
    current = _current.get()
    if current is not None and kicker.custom_task_id == current[0]:  # the running task, scheduled again
        for mw in getattr(kicker.broker, "middlewares", ()):
            # Only where the agent is on: its post_execute, which takes the mark back out, runs only then.
            if isinstance(mw, Z4jMiddleware) and mw._agent is not None and mw._agent.enabled:
                mw._retrying.add((current[0], current[2]))


def _attempt(message: Any) -> int:
    """A retry middleware's count of retries, plus the task's own requeues (Context.requeue): a
    message run again under its id is the next attempt."""
    try:
        return int((message.labels or {}).get("_retries", 0) or 0) + _requeues(message)
    except (TypeError, ValueError):
        return 0


def _requeues(message: Any) -> int:
    try:
        return int((message.labels or {}).get(_REQUEUES, 0) or 0)
    except (TypeError, ValueError):
        return 0


def _no_result(exc: Any) -> bool:
    return type(exc).__name__ == "NoResultError"
