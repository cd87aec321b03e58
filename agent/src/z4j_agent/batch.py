"""Envelopes (v1, backend/src/ingest/envelope.ts) and signed batches (docs/agent-protocol.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 1024 * 1024


def event_id() -> str:
    """Time-led and random (like a UUIDv7): unique, and the service's id index grows at its edge."""
    return f"{int(time.time() * 1000):012x}{os.urandom(10).hex()}"


def task_envelope(project: str, engine: str, kind: str, task_id: str, fields: dict[str, Any], worker: str | None, occurred_at: float | None, payload: dict[str, Any] | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "v": 1, "id": event_id(), "type": "task", "engine": engine, "project": project, "kind": kind,
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


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sign(body: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_batches(agent_id: str, secret: str, project: str, events: list[dict[str, Any]], seq: int, dropped: int) -> list[tuple[bytes, str]]:
    """The events as one or more signed batches, each within the size limits (an event too big
    even alone is dropped: the service would refuse its whole batch)."""
    out: list[tuple[bytes, str]] = []
    chunk: list[dict[str, Any]] = []
    size = 0

    def flush() -> None:
        nonlocal chunk, size
        if not chunk:
            return
        body = _dumps({"v": 1, "agent": agent_id, "project": project, "sentAt": int(time.time() * 1000), "nonce": os.urandom(16).hex(),
                       "seq": seq + len(out), "dropped": dropped, "events": chunk})
        out.append((body, sign(body, secret)))
        chunk, size = [], 0

    for ev in events:
        n = len(_dumps(ev)) + 1
        if n > MAX_BATCH_BYTES - 512:
            continue
        if len(chunk) >= MAX_BATCH_EVENTS or size + n > MAX_BATCH_BYTES - 512:
            flush()
        chunk.append(ev)
        size += n
    flush()
    return out
