"""Envelopes (v1, backend/src/ingest/envelope.ts) and signed batches (docs/agent-protocol.md)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import time
from typing import Any

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 1024 * 1024


_process_tag = os.urandom(6).hex()
_counter = itertools.count()


def _new_process_tag() -> None:
    global _process_tag, _counter
    _process_tag, _counter = os.urandom(6).hex(), itertools.count()


if hasattr(os, "register_at_fork"):  # a forked child must not repeat its parent's ids
    os.register_at_fork(after_in_child=_new_process_tag)


def id_prefix() -> str:
    """The head of the ids made now: the time (ms), then the process's random tag."""
    return f"{int(time.time() * 1000):012x}{_process_tag}"


def event_id(prefix: str | None = None) -> str:
    """Time-led (like a UUIDv7), then random per process and a counter: unique without asking the
    OS for randomness per event, and the service's id index grows at its edge. The sender makes
    one `id_prefix` per batch (formatting the time was most of an id's cost: ~1 µs per event)."""
    return f"{prefix or id_prefix()}{next(_counter) & 0xFFFFFFFF:08x}"


def task_envelope(project: str, engine: str, kind: str, task_id: str, fields: dict[str, Any], worker: str | None, occurred_at: float | None, payload: dict[str, Any] | None,
                  id_prefix: str | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "v": 1, "id": event_id(id_prefix), "type": "task", "engine": engine, "project": project, "kind": kind,
        "taskId": str(task_id)[:255], "occurredAt": int((occurred_at or time.time()) * 1000), "fields": fields,
    }
    if worker:
        env["worker"] = str(worker)[:1024]
    if payload is not None:
        env["payload"] = payload
    return env


def worker_envelope(project: str, engine: str, kind: str, worker: str, fields: dict[str, Any], occurred_at: float | None) -> dict[str, Any]:
    return {
        "v": 1, "id": event_id(), "type": "worker", "engine": engine, "project": project, "kind": kind,
        "worker": str(worker)[:1024], "occurredAt": int((occurred_at or time.time()) * 1000), "fields": fields,
    }


# One encoder: json.dumps with any option builds a new one per call, which costs more than a small event.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
# The sender's, for envelopes: without the cycle check (a mark per dict and list: ~11% of the
# encoding). What it encodes is made by the agent, trees without cycles: redacted copies, plain
# copies, envelopes, worker stats and command results. A user's objects reach JSON only through
# raw_json, which keeps the check.
_encode_envelopes = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str, check_circular=False).encode


def _dumps(obj: Any) -> bytes:
    return _encode_envelopes(obj).encode("utf-8")


class RawJSON(str):
    """JSON text that goes into the batch as it is. The retry payload is serialised once, when the
    event is recorded: a snapshot of the call as sent (later changes to its objects do not leak in),
    JSON-safe (what JSON cannot hold becomes its str), and never serialised again by the sender."""


def raw_json(value: Any) -> RawJSON:
    return RawJSON(_encode(value))


def encode_event(ev: dict[str, Any]) -> bytes:
    """An envelope's JSON bytes, its RawJSON payload spliced in."""
    raw = ev.get("payload")
    if type(raw) is not RawJSON:
        return _dumps(ev)
    head = _dumps({k: v for k, v in ev.items() if k != "payload"})
    return b"".join((head[:-1], b',"payload":', raw.encode("utf-8"), b"}"))


def sign(body: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_batches(agent_id: str, secret: str, project: str, events: list[dict[str, Any]], seq: int, dropped: int) -> list[tuple[bytes, str]]:
    """The events as one or more signed batches, each within the size limits (an event too big
    even alone is dropped: the service would refuse its whole batch)."""
    out: list[tuple[bytes, str]] = []
    chunk: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal chunk, size
        if not chunk:
            return
        # Each event is serialised once; the batch is its head with the events' bytes spliced in.
        head = _dumps({"v": 1, "agent": agent_id, "project": project, "sentAt": int(time.time() * 1000), "nonce": os.urandom(16).hex(),
                       "seq": seq + len(out), "dropped": dropped, "events": []})
        body = b"".join((head[:-2], b",".join(chunk), b"]}"))  # head ends in `[]}`
        out.append((body, sign(body, secret)))
        chunk, size = [], 0

    if len(events) <= MAX_BATCH_EVENTS and not any(type(ev.get("payload")) is RawJSON for ev in events):
        # The usual batch: all its events in one call of the encoder (a call has a set-up cost).
        data = _dumps(events)
        if len(data) <= MAX_BATCH_BYTES - 512:
            chunk, size = [data[1:-1]], len(data)
            flush()
            return out
    for ev in events:
        data = encode_event(ev)
        n = len(data) + 1
        if n > MAX_BATCH_BYTES - 512:
            continue
        if len(chunk) >= MAX_BATCH_EVENTS or size + n > MAX_BATCH_BYTES - 512:
            flush()
        chunk.append(data)
        size += n
    flush()
    return out
