"""Envelopes (v1, backend/src/ingest/envelope.ts) and signed batches (docs/agent-protocol.md)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import time
from json.encoder import c_encode_basestring, c_make_encoder, py_encode_basestring
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


def worker_envelope(project: str, engine: str, kind: str, worker: str, fields: dict[str, Any], occurred_at: float | None) -> dict[str, Any]:
    return {
        "v": 1, "id": event_id(), "type": "worker", "engine": engine, "project": project, "kind": kind,
        "worker": str(worker)[:1024], "occurredAt": int((occurred_at or time.time()) * 1000), "fields": fields,
    }


# JSON, not Python's JSON: NaN and ±Infinity are not JSON, and the service (JSON.parse) would
# refuse the whole batch that held one. Every encoder here refuses them (ValueError); scrub makes
# them null, and a retry payload holding one is not kept (it could not travel exactly).
# One encoder: json.dumps with any option builds a new one per call, which costs more than a small event.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False).encode
json_str = c_encode_basestring or py_encode_basestring  # a str's JSON (quoted, escaped)


def _sender_encoder() -> Any:
    """The sender's encoder, for what the agent built itself (redacted and plain copies, payload
    copies, worker stats, command results: trees without cycles): json's C encoder made once and
    called directly, without the cycle check (a mark per dict and list: ~11% of the encoding).
    JSONEncoder.encode makes a new C encoder per call, ~1.6 µs here: more than encoding a small
    value, and the sender encodes two or three per event. Stateless, so any thread may use it.
    A user's objects reach JSON only through raw_json, which keeps the check."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str, check_circular=False, allow_nan=False)
    if c_make_encoder is None:  # no C accelerator (not CPython)
        return encoder.encode
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan)
    c = c_make_encoder(None, encoder.default, json_str, None, ":", ",", False, False, False)
    return lambda value: "".join(c(value, 0))


encode_value = _sender_encoder()


class RawJSON(str):
    """JSON text that goes into the batch as it is. The retry payload is serialised once, when the
    event is recorded: a snapshot of the call as sent (later changes to its objects do not leak in),
    JSON-safe (what JSON cannot hold becomes its str), and never serialised again by the sender."""


def raw_json(value: Any) -> RawJSON | None:
    """None when the value holds NaN or ±Infinity: JSON cannot carry it exactly."""
    try:
        return RawJSON(_encode(value))
    except ValueError:
        return None


def sign(body: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_batches(agent_id: str, secret: str, project: str, events: list[str], seq: int, dropped: int) -> list[tuple[bytes, str]]:
    """The events (each an envelope's JSON text) as one or more signed batches, each within the
    size limits (an event too big even alone is dropped: the service would refuse its whole batch)."""
    out: list[tuple[bytes, str]] = []
    chunk: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal chunk, size
        if not chunk:
            return
        # Each event is serialised once; the batch is its head with the events' bytes spliced in.
        head = encode_value({"v": 1, "agent": agent_id, "project": project, "sentAt": int(time.time() * 1000), "nonce": os.urandom(16).hex(),
                             "seq": seq + len(out), "dropped": dropped, "events": []}).encode("utf-8")
        body = b"".join((head[:-2], b",".join(chunk), b"]}"))  # head ends in `[]}`
        out.append((body, sign(body, secret)))
        chunk, size = [], 0

    if len(events) <= MAX_BATCH_EVENTS:
        # The usual batch: its events encoded to UTF-8 in one call.
        data = ",".join(events).encode("utf-8")
        if len(data) <= MAX_BATCH_BYTES - 512:
            chunk, size = [data], len(data)
            flush()
            return out
    for ev in events:
        data = ev.encode("utf-8")
        n = len(data) + 1
        if n > MAX_BATCH_BYTES - 512:
            continue
        if len(chunk) >= MAX_BATCH_EVENTS or size + n > MAX_BATCH_BYTES - 512:
            flush()
        chunk.append(data)
        size += n
    flush()
    return out
