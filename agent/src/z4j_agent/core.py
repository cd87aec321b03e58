"""The agent: hooks call `task_event` / `worker_event` (cheap, never raise, never block); a
background thread redacts, batches, signs and sends; a bounded buffer drops oldest and counts it.
Survives fork (the child starts clean), flushes at exit within a deadline, and keeps the host
working when the broker is down."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable

from . import batch as batches
from . import policy as policies
from .batch import RawJSON
from .buffer import DropOldestBuffer
from .config import Config, ConfigError, load_config, misspelled_variables
from .event_json import TaskEventJSON
from .os_signals import reraise_if_from_a_signal_handler, start_daemon_thread, threads_without_process_signals
from .redact import LongText, keep_set, scrub
from .snapshot import Scrubbed, freeze
from .transport import SENDER_THREAD, BatchRefused, Transport, failover_urls, make_transport, next_backoff

log = logging.getLogger("z4j_agent")


class Agent:
    def __init__(self, config: Config | None, problem: str | None = None) -> None:
        self._problem = problem
        self.configure(config)
        self._buffer = self._new_buffer()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._transport: Transport | None = None
        self._failovers = 0  # failed sends, which move the agent on along a failover list of brokers
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._hurry = threading.Event()  # a flush is waiting: send partial batches at once
        # The sender's turns, counted: a flush waits for the count to move past what it saw.
        self._turns = 0
        self._turn_ended = threading.Condition(threading.Lock())
        self._sent = 0
        self._batches = 0
        self._errors = 0
        self._last_warning = 0.0
        self._heartbeats: list[threading.Thread] = []
        # When the destination went down: set by the sender when a send fails, cleared when one
        # succeeds (monotonic seconds, None while it is up). A flush every task would wait for
        # (an RQ work horse's) does not wait for a destination known to be down.
        self.down_since: float | None = None
        self.broker_untold = False  # a producer's queue could not tell its Redis (adopt_broker): not asked again
        self._exit_deadline: float | None = None  # the process's exit deadline, once a flush at exit began (exit_flush)
        if hasattr(os, "register_at_fork"):
            # How a forked child starts clean. Not by comparing the pid per event (a system call,
            # ~0.2 µs): CPython runs these hooks after os.fork and after a fork made in C the
            # documented way (PyOS_AfterFork_Child), the only forks after which Python runs safely.
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork_of(ref))
        if problem:
            log.warning("z4j agent disabled: %s", problem)

    def configure(self, config: Config | None) -> None:
        self.config = config
        # What every event asks, answered once. `enabled` is a plain attribute: every hook reads it.
        self.enabled = bool(config is not None and config.enabled and not self._problem)
        self._sampler = policies.TaskPolicy(sample=config.sample) if config is not None and config.sample < 1.0 else None
        self._redactions: dict[policies.TaskPolicy, tuple[tuple[str, ...], frozenset[str]]] = {}
        self._default_redaction = (config.redact_keys, keep_set(config.keep_keys)) if config is not None else ((), frozenset())
        dropped = getattr(getattr(self, "_task_json", None), "payloads_dropped", 0)
        self._task_json = TaskEventJSON(config.project if config is not None else "default")
        self._task_json.payloads_dropped = dropped

    # ---- what hooks call -------------------------------------------------------------

    def policy_for(self, name: str | None, func: Any = None) -> policies.TaskPolicy:
        return policies.policy_for(name, func)

    def task_event(self, engine: str, kind: str, task_id: str, *, fields: dict[str, Any] | None = None, payload: dict[str, Any] | None = None,
                   worker: str | None = None, occurred_at: float | None = None, func: Any = None, keeps_types: bool | Callable[[], bool] = False) -> None:
        """Records a task event. `fields` and `payload` are the agent's once passed: dicts the hook
        made for this call (taken as they are, not copied again). The task's thread only decides
        whether to keep the event and takes a snapshot of its values (plain ones copied, anything
        else redacted now); the sender thread redacts the copies and writes the envelope's JSON
        (`event_json`). A field set to None is left out. `keeps_types`: the engine's message keeps
        Python types (pickle, msgpack), so a payload JSON would change without a word (an int key,
        a nested tuple, an IntEnum) is not exact, and is left out (snapshot.freeze_payload); a
        function that tells is asked only for a payload that holds one."""
        if not self.enabled:
            return
        try:
            if fields is None:
                fields = {}
            pol = policies.DEFAULT
            if policies.in_use or self._sampler is not None:  # no lookup while none exists (the usual case)
                pol = self._kept(fields.get("name"), func, task_id)
                if pol is None:
                    return
            frozen = freeze(fields, payload, self._scrub, pol, keeps_types)
            item = (engine, kind, task_id, fields, worker, occurred_at or time.time(), frozen, pol)
            if payload is not None and type(frozen) is RawJSON:  # encoded now: it weighs against Z4J_BUFFER_MAX_BYTES
                self._enqueue_weighed(item)
            elif self.down_since is not None or len(self._buffer) > self._weigh_above:  # behind: the snapshot weighs too
                self._enqueue_weighed((*item, _chars(fields, 0) + _chars(frozen, 0)))
            else:
                self._enqueue(item)
        except RecursionError:  # the task's stack is (nearly) full: no call here, it would raise again, into the task
            self._errors += 1
        except Exception as caught:  # never into the task
            reraise_if_from_a_signal_handler(caught)
            self._count_error("could not record a task event")

    def own_event(self, engine: str, kind: str, task_id: str, fields: dict[str, Any], worker: str | None = None, func: Any = None) -> None:
        """`task_event` for the events of every task whose fields are the hook's own: strings and
        numbers the engine gave (name, queue, ids, attempt, runtime) and lists the hook built, never
        a task's args, kwargs or result. Nothing of the task's can change under them, so no
        snapshot is taken (`freeze`); the sender redacts and serialises them as any other. Its
        occurred_at is now. Positional arguments: called several times per task, in the task's
        thread, where each operation costs several times its warm cost (BENCHMARKS.md)."""
        if not self.enabled:
            return
        try:
            pol = policies.DEFAULT
            if policies.in_use or self._sampler is not None:
                pol = self._kept(fields.get("name"), func, task_id)
                if pol is None:
                    return
            self._enqueue((engine, kind, task_id, fields, worker, time.time(), None, pol))
        except RecursionError:  # the task's stack is (nearly) full: no call here, it would raise again, into the task
            self._errors += 1
        except Exception as caught:  # never into the task
            reraise_if_from_a_signal_handler(caught)
            self._count_error("could not record a task event")

    def _kept(self, name: str | None, func: Any, task_id: str) -> policies.TaskPolicy | None:
        """The task's policy, or None when its events are not recorded (skipped, or sampled out)."""
        pol = policies.policy_for(name, func) if policies.in_use else policies.DEFAULT
        if pol is not policies.DEFAULT and (pol.skip or (pol.sample < 1.0 and not pol.sampled(str(task_id)))):
            return None
        if self._sampler is not None and not self._sampler.sampled(str(task_id)):
            return None
        return pol

    def _redaction(self, pol: policies.TaskPolicy) -> tuple[tuple[str, ...], frozenset[str]]:
        """The keys to hide and to keep in a policy's events (the configuration's and the
        policy's), made once per policy, not per event."""
        if pol is policies.DEFAULT:  # most events; a policy's hash is not cached (a dataclass's)
            return self._default_redaction
        found = self._redactions.get(pol)
        if found is None:
            cfg = self.config
            found = (cfg.redact_keys + pol.redact if pol.redact else cfg.redact_keys,
                     keep_set(cfg.keep_keys + pol.keep if pol.keep else cfg.keep_keys))
            if len(self._redactions) >= 1024:
                self._redactions.clear()
            self._redactions[pol] = found
        return found

    def _scrub(self, value: Any, pol: policies.TaskPolicy) -> Any:
        extra, keep = self._redaction(pol)
        return scrub(value, redact_keys=extra, keep_keys=keep)

    def event_json(self, item: Any, id_prefix: str | None = None) -> str:
        """What leaves the process for a buffered item, as JSON text: a task event's snapshot
        redacted and serialised (in the sender thread), an envelope made by the caller (worker
        events, command results), or one made before (a batch put back after a failed send).
        `id_prefix`: the batch's (batch.id_prefix)."""
        t = type(item)
        if t is tuple:
            pol = item[7]
            extra, keep = self._default_redaction if pol is policies.DEFAULT else self._redaction(pol)
            return self._task_json.encode(item, extra, keep, id_prefix)
        if t is str:
            return item
        return batches.encode_value(item)

    def worker_event(self, engine: str, kind: str, worker: str, *, fields: dict[str, Any] | None = None, occurred_at: float | None = None) -> None:
        if not self.enabled:
            return
        try:
            f = {k: v for k, v in (fields or {}).items() if v is not None}
            f["dropped"] = self._buffer.dropped
            if self._task_json.payloads_dropped:  # events sent without their retry payload (too big, or not exact in JSON)
                f["payloadsDropped"] = self._task_json.payloads_dropped
            self._enqueue(batches.worker_envelope(self.config.project, engine, kind, worker, f, occurred_at))
        except RecursionError:  # as in task_event
            self._errors += 1
        except Exception as caught:
            reraise_if_from_a_signal_handler(caught)
            self._count_error("could not record a worker event")

    def start_heartbeat(self, engine: str, worker: str, stats: Callable[[], dict[str, Any]] | None = None) -> Callable[[], None]:
        """Sends worker-heartbeat every Z4J_HEARTBEAT_INTERVAL seconds until the returned stop is called."""
        stop = threading.Event()
        if not self.enabled:
            return stop.set
        # A beat is recorded under this lock and only while not stopped, so once stop returns no
        # heartbeat can follow: one stamped after the worker's goodbye would show it online again.
        beating = threading.Lock()

        def beat() -> None:
            while not stop.wait(self.config.heartbeat_interval):
                try:
                    extra = stats() if stats else {}
                except Exception:
                    extra = {}
                with beating:
                    if stop.is_set():
                        return
                    self.worker_event(engine, "worker-heartbeat", worker, fields={"freq": self.config.heartbeat_interval, "pid": os.getpid(), **extra})

        def halt() -> None:
            with beating:
                stop.set()

        self._heartbeats.append(start_daemon_thread(beat, "z4j-heartbeat"))
        return halt

    def flush(self, timeout: float = 2.0, *, patient: bool = True) -> bool:
        """Waits until everything recorded so far is sent (True) or the timeout passes (False).
        Not `patient`: also gives up (False) once the destination is known to be down, at once
        when the last send failed, else when a send fails meanwhile; for a flush every task waits
        for (an RQ work horse's), which must not cost each task the timeout while it is down."""
        if not self.enabled or self._nothing_pending():
            return True
        if not patient and self.down_since is not None:
            return False
        self._ensure_sender()
        if not self._thread.is_alive():  # none could be started (interpreter shutdown): nothing to wait for
            return False
        deadline = time.monotonic() + timeout
        self._hurry.set()
        try:
            while (left := deadline - time.monotonic()) > 0:
                # The count read before looking: a turn that ends after the look moves it, and the
                # wait below returns at once, for every flush waiting. Woken by the sender, not by
                # polling: an RQ work horse flushes twice per job, and a 2 ms poll cost it up to
                # 2 ms each time.
                seen = self._turns
                if self._nothing_pending():
                    return True
                if not patient and self.down_since is not None:
                    return False
                self._buffer.ready.set()
                with self._turn_ended:
                    self._turn_ended.wait_for(lambda: self._turns != seen, min(left, 0.05))
            return False
        finally:
            self._hurry.clear()

    def exit_flush(self) -> bool:
        """A flush as the process ends (a worker's goodbye, atexit): all of them share one
        deadline, Z4J_EXIT_FLUSH_TIMEOUT from the first, so the engines' goodbye and atexit
        together never keep a process longer; once one expired, the next return at once. One
        that delivered everything leaves the next its own deadline (the process went on)."""
        if not self.enabled:
            return True
        now = time.monotonic()
        with self._lock:
            if self._exit_deadline is None:
                self._exit_deadline = now + self.config.exit_flush_timeout
            deadline = self._exit_deadline
        done = self.flush(max(0.0, deadline - now))
        if done:
            self._exit_deadline = None
        return done

    def stats(self) -> dict[str, Any]:
        return {"queued": len(self._buffer), "sent": self._sent, "dropped": self._buffer.dropped, "payloadsDropped": self._task_json.payloads_dropped,
                "batches": self._batches, "errors": self._errors, "disabled": not self.enabled}

    # ---- the sender ---------------------------------------------------------------------

    def _enqueue(self, item: Any) -> None:
        self._buffer.put(item)
        if self._thread is None:
            self._ensure_sender()

    def _enqueue_weighed(self, item: Any) -> None:
        self._buffer.put_weighed(item)
        if self._thread is None:
            self._ensure_sender()

    def _ensure_sender(self) -> None:
        with self._lock:  # one sender, one transport: two threads here at once must not each make them
            if self._thread is not None and self._thread.is_alive():
                return  # after a failed send the sender makes the next transport, when its backoff allows
            if self._transport is None:
                # Made here, in the caller's thread, not lazily in the sender: the client library
                # is imported now, which cannot happen once the interpreter is shutting down (a
                # short script's only flush may be the one at exit). Nothing connects until the
                # first send.
                try:
                    self._transport = self._new_transport()
                except Exception as err:
                    reraise_if_from_a_signal_handler(err)
                    self._count_error(f"cannot reach the broker: {err}")
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=SENDER_THREAD, daemon=True)
            try:
                with threads_without_process_signals():
                    self._thread.start()
            except RuntimeError as err:  # from Python 3.12, none is started from an atexit function: nothing sends now
                self._count_error(f"cannot start the sender ({err}); {len(self._buffer)} event(s) not delivered")

    def _run(self) -> None:
        cfg = self.config
        backoff = 0.5
        while not self._stop.is_set():
            self._buffer.ready.wait(cfg.flush_interval)
            if 0 < len(self._buffer) < cfg.batch_size and not self._hurry.is_set():
                # A partial batch waits Z4J_FLUSH_INTERVAL for more: a batch (one wake-up, one
                # signature, one XADD) per interval, whatever the task rate. A flush (at exit,
                # or an RQ work horse's after each job) cuts the wait short.
                self._hurry.wait(cfg.flush_interval)
            self._idle.clear()  # before taking: a flush must not see an empty buffer while a batch is in hand
            items = self._buffer.take(cfg.batch_size)
            if not items:
                self._idle.set()
                self._end_turn()
                continue
            events = self._envelopes(items)
            done = 0  # events[:done] are delivered, or dropped as too big
            too_big: list[int] = []  # indices of those a batch cannot carry, dropped and counted
            try:
                if self._transport is None:
                    self._transport = self._new_transport()
                found: list[int] = []
                signed = batches.signed_batches(cfg.agent_id, cfg.agent_secret, cfg.project, events, self._batches + 1, self._buffer.dropped, found)
                if found:
                    too_big = found
                    self._dropped_too_big(len(too_big))
                for batch in signed:
                    try:
                        self._transport.send(batch.body, batch.sig, batch.events)
                    except BatchRefused as refused:  # never storable: dropped and counted, not retried forever
                        self._buffer.count_lost(batch.events)
                        self._count_error(f"{batch.events} event(s) dropped: {refused}")
                    else:
                        self._sent += batch.events
                    self._batches += 1
                    done = batch.end
                done = len(events)
                if signed:  # it answered
                    self.down_since = None
                backoff = 0.5
            except Exception as err:
                # Keep those not delivered (within the bounds) and retry later; the host carries on regardless.
                self._buffer.put_back(_unsent(events, done, too_big))
                if self.down_since is None:
                    self.down_since = time.monotonic()
                self._count_error(f"could not deliver events ({type(err).__name__}: {err}); retrying")
                self._close_transport()
                self._failovers += 1
                self._end_turn()  # now, not after the backoff: an impatient flush gives up on down_since at once
                self._stop.wait(backoff)
                backoff = next_backoff(backoff)
            finally:
                if len(self._buffer) == 0:
                    self._idle.set()
                self._end_turn()

    def _end_turn(self) -> None:
        """Wakes the flushes waiting (flush): the buffer may be empty now, or the send failed."""
        with self._turn_ended:
            self._turns += 1
            self._turn_ended.notify_all()

    def _dropped_too_big(self, n: int) -> None:
        self._buffer.count_lost(n)
        self._count_error(f"{n} event(s) over the {batches.MAX_BATCH_BYTES} bytes a batch can carry; dropped")

    def _new_buffer(self) -> DropOldestBuffer:
        cfg = self.config
        if cfg is None:
            self._weigh_above = 5
            return DropOldestBuffer(10)
        # While the broker is known to be down (down_since), or past half the buffer (a broker that
        # hangs, a worker that outruns the sender), task snapshots are weighed as they are put:
        # their strings (a task's arguments, up to 32 KiB each, a retry payload's up to its bound)
        # then count against Z4J_BUFFER_MAX_BYTES. Otherwise the sender drains the buffer every
        # flush or batch, and weighing would cost every event a walk (a busy worker keeps
        # thousands of events buffered between two of the sender's turns).
        self._weigh_above = cfg.buffer_size // 2
        return DropOldestBuffer(cfg.buffer_size, cfg.buffer_max_bytes, _weight)

    def _new_transport(self) -> Transport:
        """To the broker, or to the node of a failover list (a RabbitMQ cluster's) whose turn it
        is: the one that took the last send, the next after a failed one."""
        cfg = self.config
        urls = failover_urls(cfg.broker_url)
        url = urls[self._failovers % len(urls)]
        return make_transport(cfg.transport, url, cfg.http_url, cfg.agent_id, cfg.project, cfg.stream_maxlen, cfg.amqp_queue, cfg.amqp_queue_max_bytes)

    def _envelopes(self, items: list[Any]) -> list[str]:
        """The items' envelopes as JSON texts; one that cannot be built is dropped and counted,
        never retried forever at the head of the buffer."""
        out = []
        prefix = batches.id_prefix()
        for item in items:
            try:
                out.append(self.event_json(item, prefix))
            except Exception:
                self._buffer.count_lost(1)
                self._count_error("could not build an event; dropped")
        return out

    def _close_transport(self) -> None:
        t, self._transport = self._transport, None
        if t is not None:
            try:
                t.close()
            except Exception:
                pass

    def _after_fork(self) -> None:
        """In a forked child: the parent's buffered events stay the parent's; start clean (it
        keeps what the parent knew of the destination: down_since)."""
        self._buffer = self._new_buffer()
        self._lock = threading.Lock()
        self._thread = None
        self._transport = None  # the parent's sockets are not ours to use
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._hurry = threading.Event()
        self._turn_ended = threading.Condition(threading.Lock())  # another thread may have held the parent's
        self._heartbeats = []
        self._exit_deadline = None  # the child's exit is its own
        self._task_json.payloads_dropped = 0  # as the buffer's drop count: the child's own
        self._sent = self._batches = self._errors = 0  # its stats and its batches' seq count its own work, from 1

    def _count_error(self, message: str) -> None:
        self._errors += 1
        now = time.monotonic()
        if now - self._last_warning > 60:  # at most once a minute: a dead broker must not flood the worker's log
            self._last_warning = now
            log.warning("z4j agent: %s", message)

    def _nothing_pending(self) -> bool:
        # Both: the sender takes a batch out of the buffer before it builds and sends it, so an
        # empty buffer alone can still hide a batch in hand (exiting then would lose it).
        return len(self._buffer) == 0 and self._idle.is_set()

    def _at_exit(self) -> None:
        self.exit_flush()


def _weight(item: Any) -> int:
    """What a buffered item holds, for Z4J_BUFFER_MAX_BYTES (in characters, about bytes): an
    envelope put back after a failed send, a task event's retry payload encoded at record time,
    a task event's snapshot weighed when it was put (its weight rides as a ninth element, so the
    same weight leaves as came in); 0 for the rest."""
    t = type(item)
    if t is str:
        return len(item)
    if t is tuple:
        if len(item) == 9:
            return item[8]
        if type(item[6]) is RawJSON:
            return len(item[6])
    return 0


def _chars(v: Any, depth: int) -> int:
    """The characters of the strings in a snapshot (plain copies: at most 64 items a level, 4
    levels; a value redacted at record time is `Scrubbed`)."""
    t = type(v)
    if t is str:
        return len(v)
    if depth > 5:
        return 0
    if t is dict:
        return sum(len(k) + _chars(x, depth + 1) for k, x in v.items())
    if t is list or t is tuple:
        return sum(_chars(x, depth + 1) for x in v)
    if t is Scrubbed:
        return _chars(v.value, depth + 1)
    if t is LongText:
        return len(v.head)
    return 0


def _unsent(events: list[str], done: int, too_big: list[int]) -> list[str]:
    """The events from index `done` on, without those too big to ever be sent."""
    if not too_big:
        return events[done:]
    skip = set(too_big)
    return [ev for i, ev in enumerate(events[done:], done) if i not in skip]


def _after_fork_of(ref: weakref.ReferenceType[Agent]) -> None:
    agent = ref()
    if agent is not None:
        agent._after_fork()


_agent: Agent | None = None
_agent_lock = threading.Lock()


def get_agent(**overrides: Any) -> Agent:
    """The process's agent, configured on first use from arguments and Z4J_* variables."""
    global _agent
    if os.environ.get("Z4J_BROKER_URL"):
        # Engine modules pass the broker their worker uses; an explicit Z4J_BROKER_URL says the
        # agent publishes elsewhere (e.g. a Redis stream beside a RabbitMQ or SQS broker).
        overrides.pop("broker_url", None)
    with _agent_lock:
        if _agent is None:
            _agent = _new_agent(overrides)
            atexit.register(_agent._at_exit)
        elif overrides.get("broker_url") and _agent.config and not _agent.config.broker_url:
            # An engine module learned the broker after something else created the agent.
            try:
                _agent.configure(load_config(**{**{k: getattr(_agent.config, k) for k in _agent.config.__dataclass_fields__}, **overrides}))
            except Exception as err:  # a bad value from an engine's install: the agent stays as it was
                reraise_if_from_a_signal_handler(err)
                log.warning("z4j agent: settings ignored (%s); the agent keeps its configuration", err)
        return _agent


def adopt_broker(agent: Agent, url_of: Callable[[], str]) -> None:
    """A producer installed without a broker (no argument, no Z4J_BROKER_URL) publishes to the
    Redis its queues use, learned at its first enqueue: a process that only enqueues has no worker
    to tell it. `url_of` is called only then."""
    cfg = agent.config
    if not agent.enabled or cfg is None or cfg.broker_url or cfg.transport not in ("auto", "redis") or agent.broker_untold:
        return
    try:
        url = url_of()
    except Exception as err:  # a client whose URL cannot be read: the agent says why it cannot send
        reraise_if_from_a_signal_handler(err)
        log.warning("z4j agent: cannot tell the broker from the queue's connection (%s); set Z4J_BROKER_URL", err)
        url = ""
    if url:
        get_agent(broker_url=url)
    else:  # asked once: a client that cannot tell would be asked, and warn, at every enqueue
        agent.broker_untold = True


def _new_agent(overrides: dict[str, Any]) -> Agent:
    """The agent, or a disabled one (with one warning) when it cannot be made: whatever is wrong
    with the settings, the host that asked for it never sees an exception."""
    try:
        for name, meant in misspelled_variables():
            log.warning("z4j agent: %s is not a setting, and is ignored: did you mean %s?", name, meant)
        policies.load_env_policies()
        cfg = load_config(**overrides)
        problem = None if cfg.enabled else "Z4J_AGENT_ID and Z4J_AGENT_SECRET are not set"
        return Agent(cfg, problem)
    except ConfigError as err:
        return Agent(None, str(err))
    except Exception as err:
        reraise_if_from_a_signal_handler(err)
        return Agent(None, f"could not start ({type(err).__name__}: {err})")


def reset_agent() -> None:
    """Tests only: forget the process's agent."""
    global _agent
    with _agent_lock:
        _agent = None
