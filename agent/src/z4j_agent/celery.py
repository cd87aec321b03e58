"""Celery: `z4j_agent.celery.install(app)`.

Celery's own events already tell z4j each task's lifecycle (the service reads them from the
broker, no agent needed). What they lack is the exact call — task name, args, kwargs, queue — a
retry must re-send: Celery events carry only truncated reprs. Installed in the processes that
send tasks (and in workers: Celery's own retries and canvas callbacks are sent from there), the
agent records it at publish time as an `enqueued` event carrying the payload, which the service
seals and never shows.

The event is marked `recordedBy: "z4j-agent"`: when the producer also sends Celery's task-sent
(task_send_sent_event), the service keeps one enqueued row for the attempt, this event's fields
first (backend/src/ingest/celeryEnqueues.ts); without task-sent it is the task's only enqueue.

In a worker of the solo pool, the agent also sends Celery's buffered task events as each task
begins (see `_send_buffered_task_events`)."""

from __future__ import annotations

import sys
import threading
import urllib.parse
import weakref
from typing import Any

from ._common import installed_on, log, mark_installed, require
from .core import Agent, get_agent
from .os_signals import reraise_if_from_a_signal_handler, reraise_unless_delivered_again

MIN_VERSION = (5, 3)
AGENT_MARK = "z4j-agent"  # the service merges Celery's own task-sent into the event carrying it


def _options(headers: dict[str, Any], properties: dict[str, Any] | None) -> dict[str, Any]:
    """What of the call's options a retry must send again (the service's celery/taskMessage.ts
    reads them): its priority, its own time limits, whether its result is kept (and, added by
    _on_publish, its serializer when it is not json)."""
    options: dict[str, Any] = {}
    priority = (properties or {}).get("priority")
    if isinstance(priority, int) and not isinstance(priority, bool):
        options["priority"] = priority
    limits = headers.get("timelimit")
    if isinstance(limits, (list, tuple)) and len(limits) == 2:
        for key, value in zip(("time_limit", "soft_time_limit"), limits):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                options[key] = value
    if headers.get("ignore_result") is True:
        options["ignore_result"] = True
    return options


def _payload(headers: dict[str, Any], body: Any, routing_key: str | None, properties: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    if not isinstance(body, (tuple, list)) or len(body) < 2:
        return None  # protocol 1 or a serializer z4j does not read: no payload, Celery events still flow
    # Not copied here: task_event takes a snapshot of both (once, shared by fields and payload).
    args, kwargs = body[0] or [], body[1] or {}
    name = headers.get("task")
    payload = {"name": name, "args": args, "kwargs": kwargs, "queue": routing_key, "options": _options(headers, properties)}
    fields = {  # None ones are left out by task_event
        "name": name, "queue": routing_key, "args": args, "kwargs": kwargs, "retries": int(headers.get("retries") or 0),
        "rootId": headers.get("root_id"), "parentId": headers.get("parent_id"), "groupId": headers.get("group"),
        "eta": headers.get("eta"), "expires": headers.get("expires"), "recordedBy": AGENT_MARK,
    }
    return payload, fields


# One receiver per process, whatever the number of installed apps. before_task_publish names no
# app (its sender is the task's name, and a shared task's name is in every app's registry), so a
# receiver per app, which cannot keep to its own app's sends, recorded each send once per
# installed app: duplicate enqueued events and the retry payload sealed twice. The agent is one
# per process too; an app is needed only for the broker the agent publishes to.
#
# Which app sends is not said either. Of what the signal passes, only properties' reply_to names
# an app (its thread_oid, by default), and only for a first send: a retry keeps the original
# producer's, the caller may give its own. The rest is the message's (headers, exchange, routing
# key; `declare` holds the app's Queue only when the queue was named), the producer is not
# passed, and the current app is whichever was made or entered last. So reply_to is tried first
# (most sends, at the cost of a compare), then the stack: every send of Celery 5.3 to 5.7 runs in
# Celery.send_task (apply_async, delay, signatures and canvas, retry, chord callbacks), whose
# frame holds the app: receiver <- Signal.send <- AMQP's send_task_message <- send_task.
_FRAMES = 6  # how far above the receiver send_task_message and send_task are looked for: the second and third frames in Celery 5.3 to 5.7
_lock = threading.Lock()
_agent: Agent | None = None  # the process's agent (a new one after core.reset_agent, tests only)
_apps: list[weakref.ref[Any]] = []  # the apps installed with it, in order
_broker_unread = False


def _read_broker() -> None:
    """The first installed app with a broker lends it to the agent, if the agent has none yet
    (get_agent keeps one known already). Read at a send, not at install: install() often comes
    before app.config_from_object(...), and the broker it read then was none (nowhere to send)."""
    global _broker_unread
    _broker_unread = False
    for ref in _apps:
        app = ref()
        url = _broker_url(app) if app is not None else ""
        if url:
            get_agent(broker_url=url)
            return


def _broker_url(app: Any) -> str:
    """The app's broker as the agent connects to it: a failover list as the agent reads one
    (transport.failover_urls), each URL with the TLS of its broker_use_ssl, which kombu uses
    whatever the URL's scheme says (a private CA, a client certificate)."""
    # broker_write_url, where the app publishes when it reads elsewhere (broker_read_url), wins.
    urls = _urls(app.conf.broker_write_url or app.conf.broker_url)
    tls = app.conf.broker_use_ssl
    if urls and urls[0].startswith("sentinel://"):
        return _sentinel_url(urls, app.conf.broker_transport_options or {}, tls)
    return ";".join(_with_tls(url, tls) for url in urls)


def _with_tls(url: str, tls: Any) -> str:
    if not tls:
        return url
    from ._common import redis_tls_settings, secure_url
    from .transport import cert_reqs_name

    options = tls if isinstance(tls, dict) else {}  # True: the system's CAs
    scheme = url.split("://", 1)[0]
    if scheme in ("redis", "rediss"):  # kombu's Redis takes redis-py's names
        return secure_url(url, "rediss", redis_tls_settings(options))
    if scheme in ("amqp", "amqps", "pyamqp"):  # py-amqp's wrap_socket names, written as amqp_connect reads them
        reqs = options.get("ssl_cert_reqs", options.get("cert_reqs"))
        return secure_url(url, "amqps", {"cafile": options.get("ca_certs"), "certfile": options.get("certfile"), "keyfile": options.get("keyfile"),
                                         "no_verify_ssl": "1" if reqs is not None and cert_reqs_name(reqs) == "none" else None})
    return url


def _sentinel_url(urls: list[str], options: dict[str, Any], tls: Any) -> str:
    """kombu's Sentinel broker as one redis+sentinel:// URL (redis_sentinel.py): every URL of its
    list is a sentinel (sentinel://host:26379;sentinel://...), the first one's password and db are
    the master's, and its transport options name the master (master_name) and the sentinels' own
    credentials (sentinel_kwargs)."""
    from ._common import redis_tls_settings
    from .redis_sentinel import DEFAULT_PORT, make_url

    parts = [urllib.parse.urlsplit(u) for u in urls]
    master = options.get("master_name")
    if not master:
        log.warning("z4j agent: the Celery broker is a Sentinel one with no master_name in broker_transport_options; events are not sent")
        return ""
    first = parts[0]
    own = options.get("sentinel_kwargs") or {}
    try:
        sentinels = [(p.hostname or "localhost", p.port or DEFAULT_PORT) for p in parts]
        db = int(first.path.strip("/") or 0)
    except ValueError as err:  # a port or db that is no number: kombu cannot connect either
        log.warning("z4j agent: the Celery broker's Sentinel URLs cannot be read (%s); events are not sent", err)
        return ""
    return make_url(sentinels, master, db, urllib.parse.unquote(first.username or "") or None, urllib.parse.unquote(first.password) if first.password else None,
                    own.get("username"), own.get("password"), redis_tls_settings(tls if isinstance(tls, dict) else {}) if tls else None, bool(own.get("ssl")))


def _urls(broker_url: Any) -> list[str]:
    """The URLs of a broker setting: one, or a failover list (kombu's `;`-separated string, or a list)."""
    from .transport import failover_urls

    items = broker_url if isinstance(broker_url, (list, tuple)) else failover_urls(str(broker_url or ""))
    return [str(u).strip() for u in items if str(u).strip()]


_celery_found: tuple[Any, Any] | None = None


def _celery() -> tuple[Any, Any]:
    """Celery's app class, and weak references to every app of the process (each Celery()
    registers itself in celery._state._apps, a WeakSet: its set of references, read without the
    WeakSet's iteration guard, which costs µs; None where a Celery keeps them otherwise). Found
    once: `from celery import ...` goes through Celery's lazy module, ≈ 10 µs each time."""
    global _celery_found
    if _celery_found is None:
        from celery import Celery, _state

        _celery_found = (Celery, getattr(getattr(_state, "_apps", None), "data", None))
    return _celery_found


def _sending_app(properties: dict[str, Any] | None) -> Any:
    """The Celery app whose send_task runs the publish being signalled: an installed app whose
    thread_oid is properties' reply_to (a first send: a compare), else the process's only Celery
    app (most workers and producers have one: a count), else the `self` of send_task's frame (a
    look up the stack that reads a frame's locals: tens of µs, for a retry or a reply_to of the
    caller's own, where the process has several apps); None when not found (a send that bypassed
    send_task, a Celery whose code moved): such a send is recorded, as every send was before.
    Called from _on_publish only (the stack is read from there)."""
    try:
        reply_to = properties.get("reply_to") if properties else None
        if reply_to:
            for ref in _apps:
                installed = ref()
                if installed is not None and installed.thread_oid == reply_to:
                    return installed
        Celery, every = _celery()
        if every is not None and len(every) == 1:
            for ref in every:
                only = ref()
                if only is not None:
                    return only
        frame = sys._getframe(1)  # the receiver, _on_publish (or a wrapper of this function, the bench's)
        for _ in range(_FRAMES):
            if frame is None:
                break
            if frame.f_code.co_name == "send_task":
                found = frame.f_locals.get("self")
                if isinstance(found, Celery):
                    return found
            frame = frame.f_back
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
    return None


def _keeps_types(app: Any) -> bool:
    """Whether the message being published keeps Python types, asked only when the retry payload
    holds something JSON would change (a tuple within the args, a key that is not a str, a
    subclass of JSON's types: snapshot.freeze_payload), which a plain call does not: this reads a
    frame's locals, ≈ 25 µs between Celery's own work (BENCHMARKS.md, fifteenth pass), and most
    sends never pay it.

    With json (Celery's default) the task receives what JSON makes of its arguments, and the
    retry payload is exact as JSON makes it; with pickle, msgpack or yaml it receives Python types
    that JSON would change (an int key, a nested tuple, an IntEnum). before_task_publish does not
    pass the serializer: it is send_task_message's argument (the task's `serializer` option or the
    call's), else the app's task_serializer, both read from that frame, the nearest of that name
    above this call (made while the publish runs, from within task_event). Not found: the sending
    app's task_serializer, which misses a task's or a call's own; else strict (not json)."""
    try:
        frame = sys._getframe(1)
        for _ in range(_FRAMES + 8):  # task_event's own frames (freeze, freeze_payload) lie between
            if frame is None:
                break
            if frame.f_code.co_name == "send_task_message":
                local = frame.f_locals  # a dict of the frame's thirty-odd locals, made here
                return (local.get("serializer") or local.get("default_serializer")) != "json"
            frame = frame.f_back
        return app is None or app.conf.task_serializer != "json"
    except Exception as caught:
        reraise_if_from_a_signal_handler(caught)
        return True


def _serializer(app: Any, name: Any) -> Any:
    """The serializer of the task's messages: the task's own `serializer` (which defaults to the
    app's task_serializer), else the app's; json when the app is not known. A call's own
    `apply_async(serializer=...)` is not seen (before_task_publish does not pass it)."""
    if app is None:
        return "json"
    try:
        task = app.tasks.get(name)
    except Exception as caught:  # an app that is not finalized and may not be (autofinalize=False)
        reraise_if_from_a_signal_handler(caught)
        task = None
    return getattr(task, "serializer", None) or app.conf.task_serializer


def _on_publish(sender: Any = None, body: Any = None, routing_key: str | None = None, headers: dict[str, Any] | None = None,
                properties: dict[str, Any] | None = None, **_: Any) -> None:
    try:
        agent = _agent
        if agent is None or not agent.enabled:
            return
        app = _sending_app(properties)
        if app is not None and not installed_on(app):
            return  # an app never installed (another project's client, a library's own)
        if _broker_unread:
            _read_broker()
        headers = headers or {}
        task_id = headers.get("id")
        found = _payload(headers, body, routing_key, properties)
        if not task_id or found is None:
            return
        payload, fields = found
        serializer = _serializer(app, payload["name"])
        if serializer != "json":
            payload["options"]["serializer"] = serializer  # a retry from z4j is sent so: workers may accept nothing else
        agent.task_event("celery", "enqueued", task_id, fields=fields, payload=payload, keeps_types=lambda: _keeps_types(app))
    except Exception as caught:
        # Celery's Signal.send logs and drops what a receiver raises: a signal handler's exception
        # (a soft time limit) comes again once this returns; nothing else goes into apply_async.
        reraise_unless_delivered_again(caught)


# A worker of the solo pool runs each task in its event loop's own thread, and Celery buffers
# task events for that loop to send (events.Dispatcher's buffer_group, flushed by the hub): a
# task's received and started reach the broker only once it ended, so while it runs every monitor
# sees it waiting. In such a worker the agent sends that buffer as the task begins: Celery's own
# events, once each, as Celery would have sent them. Other pools run tasks elsewhere while the
# loop flushes, and their tasks do not pay for the task_prerun receiver (Celery sends a signal only
# while it has receivers): it is disconnected once the worker tells its pool, and in each prefork
# child as it starts. Connected at install, not then: the tracers Celery builds before read the
# receivers' list, which Celery 5.3 replaces (a weak receiver gone) where later ones keep it; a
# disconnect it misses costs a call per task, a connect it missed would lose the flush.
_solo_consumer: Any = None


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    global _solo_consumer
    try:
        from celery.concurrency.solo import TaskPool as SoloPool
        from celery.signals import task_prerun

        solo = isinstance(getattr(sender, "pool", None), SoloPool) and installed_on(getattr(sender, "app", None))
        _solo_consumer = sender if solo else None  # its event_dispatcher is made anew at each broker connection: read it then
        if solo:
            task_prerun.connect(_send_buffered_task_events, weak=False)  # a receiver already connected is kept once
        else:
            task_prerun.disconnect(_send_buffered_task_events)
    except Exception as caught:
        reraise_unless_delivered_again(caught)
        log.debug("z4j: could not inspect the Celery worker's pool", exc_info=True)


def _in_pool_child(**_: Any) -> None:
    """worker_process_init: a prefork child runs tasks outside the worker's event loop."""
    try:
        from celery.signals import task_prerun

        task_prerun.disconnect(_send_buffered_task_events)
    except Exception as caught:
        reraise_unless_delivered_again(caught)


def _send_buffered_task_events(**_: Any) -> None:
    try:
        consumer = _solo_consumer
        if consumer is None:
            return
        dispatcher = consumer.event_dispatcher
        if dispatcher is not None and dispatcher.enabled:
            dispatcher.flush(errors=False, groups=True)
    except Exception as caught:
        reraise_unless_delivered_again(caught)  # what was not sent stays buffered for the loop; nothing else goes into the task


def install(app: Any, **agent_options: Any) -> None:
    """Call once, next to `app = Celery(...)`, before or after configuring the app."""
    import celery
    from celery.signals import before_task_publish, task_prerun, worker_process_init, worker_ready

    require("celery", celery.__version__, MIN_VERSION)

    global _agent, _broker_unread
    with _lock:
        if installed_on(app):
            return
        agent = get_agent(**agent_options)
        if agent is not _agent:
            _apps.clear()  # installed with a former agent (tests reset it)
        _apps[:] = [ref for ref in _apps if ref() is not None]
        _apps.append(weakref.ref(app))
        _agent, _broker_unread = agent, True  # this app's broker may be the first one known
        before_task_publish.connect(_on_publish, weak=False)  # a receiver already connected is kept once
        worker_ready.connect(_on_worker_ready, weak=False)
        task_prerun.connect(_send_buffered_task_events, weak=False)  # until the worker's pool is known (above)
        worker_process_init.connect(_in_pool_child, weak=False)
        mark_installed(app)
