"""A task event's envelope as JSON text, made by the sender thread from the snapshot the task's
thread took (snapshot.py): its fields redacted and serialised in one pass, the envelope written
around them. What repeats from event to event is encoded once and remembered: the envelope's
head (engine, project, kind, worker), field names, short strings (task names, queues, small
args). Encoding each event as a dict had become over half of the sender's time."""

from __future__ import annotations

import functools
from typing import Any

from .batch import RawJSON, encode_value, event_id, json_str
from .redact import HEX_ID, redact_text, scrub_plain, scrub_str
from .snapshot import MAX_STRING, TEXT_FIELDS, Scrubbed

# Fields whose values can carry user data: scrubbed with the task's policy.
PAYLOAD_FIELDS = frozenset(("args", "kwargs", "result"))
_SAFE_INT = 2**53  # beyond it JavaScript loses digits: a payload field's int is sent as a string


@functools.lru_cache(maxsize=4096)
def _short_text(s: str) -> str:
    return json_str(redact_text(s))


def _text(key: str, s: str) -> str:
    """A string field's JSON, its secrets hidden. A longer one was cut or redacted at record
    time unless it is free text (cut here)."""
    n = len(s)
    if n <= 256:
        if (n == 36 or n == 32) and HEX_ID(s):  # a task id: unique, so not worth remembering, and it cannot hold a secret
            return f'"{s}"'
        return _short_text(s)
    if n <= MAX_STRING:
        return json_str(redact_text(s))
    return json_str(redact_text(s[:MAX_STRING]) if key in TEXT_FIELDS else scrub_str(s))


_key_json: dict[str, str] = {}  # field name → `"name":` (the engines use a few dozen names)


def _key(k: str) -> str:
    found = json_str(k) + ":"
    if len(_key_json) < 1024:
        _key_json[k] = found
    return found


def fields_json(snap: dict[str, Any], extra: tuple[str, ...], keep: frozenset[str]) -> str:
    """The snapshot's fields as a JSON object, redacted with the policy's keys (`extra`, `keep`):
    the values of json.dumps(scrub(...)) of each, without building the redacted dict first."""
    parts = []
    known = _key_json.get
    for k, v in snap.items():
        t = type(v)
        if t is str:
            # The usual string (a name, a queue) straight from memory; _text for the others.
            text = _short_text(v) if len(v) <= 256 and len(v) != 36 and len(v) != 32 else _text(k, v)
        elif t is int:
            text = repr(v) if -_SAFE_INT < v < _SAFE_INT or k not in PAYLOAD_FIELDS else f'"{v}"'
        elif t is bool:
            text = "true" if v else "false"
        elif t is Scrubbed:  # redacted at record time (it was not plain)
            text = encode_value(v.value)
        elif t is float and k not in PAYLOAD_FIELDS:  # runtime and the like, sent as they are
            text = repr(v) if v - v == 0.0 else encode_value(v)  # v - v is nan for nan and ±inf
        elif v is None:  # a field set to None: no value to report
            continue
        else:  # a plain copy (a list or dict: anything else was redacted at record time), or a float of args / result
            text = encode_value(scrub_plain(v, extra, keep))
        parts.append((known(k) or _key(k)) + text)
    return "{" + ",".join(parts) + "}"


class TaskEventJSON:
    """Makes task events' JSON for one project."""

    def __init__(self, project: str) -> None:
        self._project = project
        self._heads: dict[tuple[str, str, Any], str] = {}

    def _head(self, engine: str, kind: str, worker: Any) -> str:
        """Everything before the event's id, made once per engine, kind and worker."""
        key = (engine, kind, worker)
        head = self._heads.get(key)
        if head is None:
            head = f'{{"v":1,"type":"task","engine":{json_str(engine)},"project":{json_str(self._project)},"kind":{json_str(kind)},'
            if worker:
                head += f'"worker":{json_str(str(worker)[:1024])},'
            head += '"id":"'
            if len(self._heads) >= 1024:
                self._heads.clear()
            self._heads[key] = head
        return head

    def encode(self, item: tuple, extra: tuple[str, ...], keep: frozenset[str], id_prefix: str | None = None) -> str:
        """A buffered task event (Agent.task_event's tuple) as its envelope's JSON. The retry
        payload travels exact (the service seals it), never redacted: a plain copy encoded here,
        or, when it was not plain, its JSON made at record time (RawJSON)."""
        engine, kind, task_id, snap, worker, occurred_at, payload, _ = item
        tail = "}" if payload is None else f',"payload":{payload if type(payload) is RawJSON else encode_value(payload)}}}'
        return (f'{self._head(engine, kind, worker)}{event_id(id_prefix)}","taskId":{json_str(str(task_id)[:255])},'
                f'"occurredAt":{int(occurred_at * 1000)},"fields":{fields_json(snap, extra, keep)}{tail}')
