"""The agent's command channel (docs/agent-protocol.md, "Commands"): inside a worker, a daemon
thread takes the service's commands for this worker from the broker the worker already uses
(Redis list `z4j:commands:<project>:<worker>`, or the RabbitMQ queue of amqp_commands.py), checks each (signed with this agent's secret,
addressed to this project / agent / worker / engine, not expired, not seen before), runs the
engine module's handler for its action, and reports the outcome as a `command` event on the
agent's event stream. Nothing here raises into the host: a bad command is dropped and counted,
a failing handler becomes a failed outcome, a broker outage a back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from . import amqp_commands
from . import batch as batches
from .os_signals import start_daemon_thread
from .redact import redact_text
from .transport import REDIS_SCHEMES, failover_urls, next_backoff, redis_from_url

log = logging.getLogger("z4j_agent")

KEY_LABEL = b"z4j-commands-v1"
MAX_COMMAND_BYTES = 1024 * 1024
DONE_TTL_S = 86_400
POLL_S = 1.0

Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class CommandError(Exception):
    """A handler's refusal: the command fails with this message (and `code`, when the service
    acts on the reason: STARTED, a cancel that came after the task started here)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def command_key(project: str, worker: str) -> str:
    return f"z4j:commands:{project}:{worker}"


class RedisCommands:
    """The worker's command list on Redis, BRPOPed; ids are remembered in Redis too, so a command
    runs once even if it reached two processes."""

    name = "redis"

    def __init__(self, url: str, client: Any, project: str, worker: str) -> None:
        self._url = url
        self._client = client
        self._own = client is None  # a client made here, not the worker's: closed here
        self._key = command_key(project, worker)
        self._project = project

    def _redis(self) -> Any:
        if self._client is None:
            self._client = redis_from_url(self._url, socket_timeout=POLL_S + 5, socket_connect_timeout=3)
        return self._client

    def take(self) -> "tuple[bytes, Callable[[], None]] | None":
        item = self._redis().brpop([self._key], timeout=POLL_S)
        return (item[1], lambda: None) if item else None

    def first_time(self, command_id: str, worker: str) -> bool:
        return bool(self._redis().set(f"z4j:commands:done:{self._project}:{command_id}", worker, nx=True, ex=DONE_TTL_S))

    def reset(self) -> None:
        pass  # redis-py reconnects by itself

    def close(self) -> None:
        client, self._client = self._client, None
        if self._own and client is not None:
            client.close()


def channel_kind(broker_url: str, client: Any = None) -> str | None:
    """Where this worker's commands come from: its Redis, its RabbitMQ (with the engine's own AMQP
    client), or nowhere."""
    if client is not None or broker_url.startswith(REDIS_SCHEMES):
        return "redis"
    if broker_url.startswith(amqp_commands.AMQP_SCHEMES) and amqp_commands.client_library():
        return "amqp"
    return None


def signing_key(secret: str | bytes) -> bytes:
    """Commands are signed with a key derived from the agent's secret, never with the secret
    itself: a batch signature can never pass for a command's (domain separation)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, KEY_LABEL, hashlib.sha256).digest()


def sign_command(text: bytes, secret: str | bytes) -> str:
    return hmac.new(signing_key(secret), text, hashlib.sha256).hexdigest()


def command_envelope(project: str, engine: str, worker: str, command: dict[str, Any], state: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "id": batches.event_id(), "type": "command", "engine": engine, "project": project, "occurredAt": int(time.time() * 1000),
            "worker": worker, "commandId": command.get("id"), "command": command.get("command"), "action": command.get("action"),
            "state": state, "detail": detail}


class CommandListener:
    """One per worker process. `handlers` maps an action ("retry", "terminate") to a function of
    the command's args that returns the outcome's detail or raises (CommandError: a refusal)."""

    def __init__(self, agent: Any, engine: str, worker: str, broker_url: str, handlers: dict[str, Handler], *, queues: list[str] | None = None, client: Any = None) -> None:
        self.agent = agent
        self.engine = engine
        self.worker = worker
        self.broker_url = broker_url or ""
        self.handlers = dict(handlers)
        self.queues = [q for q in (queues or []) if q]
        self._client = client
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refused = 0
        self._last_warning = 0.0
        self.kind = channel_kind(self.broker_url, client)
        self._channel: Any = None
        self._nodes = failover_urls(self.broker_url)  # a failover list: the next after a failed read
        self._node = 0

    @property
    def available(self) -> bool:
        cfg = getattr(self.agent, "config", None)
        return bool(getattr(self.agent, "enabled", False) and cfg and self.handlers and self.kind)

    def announcement(self) -> dict[str, Any] | None:
        """What the worker's online / heartbeat events carry, so the service knows where to send what."""
        if not self.available:
            return None
        return {"channel": self.kind, "actions": sorted(self.handlers), "queues": self.queues}

    # ---- the thread --------------------------------------------------------------------------

    def start(self) -> Callable[[], None]:
        if not self.available or self._thread is not None:
            return self.stop
        self._thread = start_daemon_thread(self._run, "z4j-commands")
        return self.stop

    def stop(self) -> None:
        self._stop.set()

    @property
    def channel(self) -> Any:
        if self._channel is None:
            project = self.agent.config.project
            url = self._nodes[self._node % len(self._nodes)]
            if self.kind == "redis":
                self._channel = RedisCommands(url, self._client, project, self.worker)
            else:
                self._channel = amqp_commands.open_queue(url, amqp_commands.command_queue(project, self.worker), POLL_S)
        return self._channel

    def _run(self) -> None:
        backoff = 0.5
        try:
            while not self._stop.is_set():
                try:
                    taken = self.channel.take()
                    backoff = 0.5
                except Exception as err:  # the broker is down: the host carries on, we try again later
                    self._warn(f"cannot read commands ({type(err).__name__}: {err}); retrying")
                    self._reset()
                    self._stop.wait(backoff)
                    backoff = next_backoff(backoff)
                    continue
                if taken is None:
                    continue
                raw, ack = taken
                try:
                    self.handle(raw)
                except Exception:
                    self._warn("a command could not be handled")
                try:
                    ack()
                except Exception:  # redelivered after the reconnect: dropped then as a duplicate
                    self._warn("could not ack a command")
                    self._reset()
        finally:
            try:
                self.channel.close()
            except Exception:
                pass

    def _reset(self) -> None:
        try:
            self.channel.reset()
        except Exception:
            pass
        if len(self._nodes) > 1 and self._client is None:  # on to the next node of the list
            try:
                self.channel.close()
            except Exception:
                pass
            self._channel = None
            self._node += 1

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("z4j agent: %s", message)

    # ---- one command -------------------------------------------------------------------------

    def handle(self, raw: bytes | str) -> str:
        """Checks and runs one command; returns what happened (for tests and logs): ran, failed,
        expired, duplicate, or refused:<reason> (dropped without a report: not from the service)."""
        cfg = self.agent.config
        if len(raw) > MAX_COMMAND_BYTES:
            return self._refuse("too_big")
        try:
            wrapper = json.loads(raw)
            text = wrapper["command"]
            sigs = wrapper["sigs"]
            if not isinstance(text, str) or not isinstance(sigs, list):
                raise ValueError
            body = text.encode("utf-8")
        except (ValueError, KeyError, TypeError, UnicodeError):
            return self._refuse("malformed")
        expected = sign_command(body, cfg.agent_secret)
        if not any(isinstance(s, str) and hmac.compare_digest(s, expected) for s in sigs[:8]):
            return self._refuse("bad_signature")
        try:
            command = json.loads(text)
        except ValueError:
            return self._refuse("malformed")
        if not isinstance(command, dict) or command.get("v") != 1 or not isinstance(command.get("id"), str) or not 0 < len(command["id"]) <= 64:
            return self._refuse("malformed")
        target = (command.get("project"), command.get("agent"), command.get("worker"), command.get("engine"))
        if target != (cfg.project, cfg.agent_id, self.worker, self.engine):
            return self._refuse("wrong_target")
        if not self._first_time(command["id"]):
            return "duplicate"
        expires = command.get("expiresAt")
        if not isinstance(expires, (int, float)) or time.time() * 1000 > expires:
            self._report(command, "failed", {"code": "EXPIRED", "message": "the command expired before the agent took it; not executed"})
            return "expired"
        handler = self.handlers.get(command.get("action"))
        if handler is None:
            self._report(command, "failed", {"code": "UNSUPPORTED", "message": f"this agent cannot {command.get('action')!s:.40}"})
            return "failed"
        args = command.get("args") if isinstance(command.get("args"), dict) else {}
        try:
            detail = handler(args) or {}
        except CommandError as err:
            detail = {"message": redact_text(str(err))[:2000]}
            if err.code:
                detail["code"] = err.code
            self._report(command, "failed", detail)
            return "failed"
        except Exception as err:  # the engine refused: an outcome, never the host's problem
            self._report(command, "failed", {"message": redact_text(f"{type(err).__name__}: {err}")[:2000]})
            return "failed"
        self._report(command, "succeeded", detail)
        return "ran"

    def _refuse(self, reason: str) -> str:
        self.refused += 1
        self._warn(f"refused a command ({reason})")
        return f"refused:{reason}"

    def _first_time(self, command_id: str) -> bool:
        """Once per command id: in this process, and across processes through the broker."""
        if command_id in self._seen:
            return False
        self._seen[command_id] = None
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        try:
            return self.channel.first_time(command_id, self.worker)
        except Exception:
            return True  # the broker is down: this process's memory is all we have

    def _report(self, command: dict[str, Any], state: str, detail: dict[str, Any]) -> None:
        try:
            self.agent._enqueue(command_envelope(self.agent.config.project, self.engine, self.worker, command, state, detail))
        except Exception:
            self._warn("could not report a command's outcome")
