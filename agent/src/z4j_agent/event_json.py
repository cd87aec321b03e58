"""A task event's envelope as JSON text, made by the sender thread from the snapshot the task's
thread took (snapshot.py): its fields redacted and serialised in one pass, the envelope written
around them. What repeats from event to event is encoded once and remembered: the envelope's
head (engine, project, kind, worker), field names, the fields that are short strings (task
names, queues). Encoding each event as a dict had become over half of the sender's time."""

from __future__ import annotations

from typing import Any

from .batch import MAX_PAYLOAD_CHARS, NOT_FINITE, TOO_BIG, NotJSON, Omitted, RawJSON, encode_payload, encode_value, event_id, json_str, not_json
from .redact import HEX_ID, hide_named, redact_text, scrub_plain, scrub_str
from .snapshot import MAX_STRING, TEXT_FIELDS, Scrubbed

# Fields whose values can carry user data: scrubbed with the task's policy.
PAYLOAD_FIELDS = frozenset(("args", "kwargs", "result"))
_SAFE_INT = 2**53  # beyond it JavaScript loses digits: a payload field's int is sent as a string


def _text(key: str, s: str, extra: tuple[str, ...] = ()) -> str:
    """A string field's JSON, its secrets hidden (and the values of the policy's own key names,
    `extra`, where the text names them). A longer one was cut or redacted at record time unless it
    is free text (cut here)."""
    if len(s) <= MAX_STRING:
        shown = redact_text(s)
    else:
        shown = redact_text(s[:MAX_STRING]) if key in TEXT_FIELDS else scrub_str(s)
    return json_str(hide_named(shown, extra) if extra else shown)


_keys: dict[str, str] = {}  # field name → `"name":` (the engines use a few dozen names)


def _key(k: str) -> str:
    found = _keys.get(k)
    if found is None:
        found = json_str(k) + ":"
        if len(_keys) < 1024:
            _keys[k] = found
    return found


# (field name, string) → `"name":"value"`, redacted: the strings of most fields repeat from event
# to event (task names, queues, small args), and redaction is a pure function of the string (and
# of the policy's own key names, when it adds some: then they are part of the key). Ids (unique)
# and long strings are not remembered; bounded, emptied when full.
_string_fields: dict[tuple, str] = {}


def _string_field(k: str, v: str, extra: tuple[str, ...] = ()) -> str:
    n = len(v)
    if (n == 36 or n == 32) and HEX_ID(v):  # a task id: unique, and it cannot hold a secret
        return f'{_key(k)}"{v}"'
    part = _key(k) + _text(k, v, extra)
    if n <= 256:
        if len(_string_fields) >= 4096:
            _string_fields.clear()
        _string_fields[(k, v, extra) if extra else (k, v)] = part
    return part


def fields_json(snap: dict[str, Any], extra: tuple[str, ...], keep: frozenset[str], payload: dict[str, Any] | None = None,
                same: dict[str, str] | None = None) -> str:
    """The snapshot's fields as a JSON object, redacted with the policy's keys (`extra`, `keep`):
    the values of json.dumps(scrub(...)) of each, without building the redacted dict first.
    Args and kwargs shared with the payload (snapshot.freeze) that redaction left as they were
    put their JSON in `same`: the payload's is the same text."""
    parts = []
    remembered, key = _string_fields.get, _keys.get
    for k, v in snap.items():
        t = type(v)
        if t is str:
            parts.append((remembered((k, v, extra) if extra else (k, v))) or _string_field(k, v, extra))
            continue
        if t is int:
            text = repr(v) if -_SAFE_INT < v < _SAFE_INT or k not in PAYLOAD_FIELDS else f'"{v}"'
        elif t is bool:
            text = "true" if v else "false"
        elif t is Scrubbed:  # redacted at record time (it was not plain)
            text = encode_value(v.value)
        elif t is float and k not in PAYLOAD_FIELDS:  # runtime and the like, sent as they are
            text = repr(v) if v - v == 0.0 else "null"  # v - v is nan for nan and ±inf, which JSON cannot hold (as scrub)
        elif v is None:  # a field set to None: no value to report
            continue
        else:  # a plain copy (a list or dict: anything else was redacted at record time), or a float of args / result
            redacted = scrub_plain(v, extra, keep)
            text = encode_value(redacted)
            # Equal means the same JSON: scrub_plain keeps every value's type (a changed int, float
            # or key makes them differ).
            if same is not None and v is payload.get(k) and redacted == v:
                same[k] = text
        parts.append((key(k) or _key(k)) + text)
    return "{" + ",".join(parts) + "}"


class TaskEventJSON:
    """Makes task events' JSON for one project."""

    def __init__(self, project: str) -> None:
        self._project = project
        self._heads: dict[tuple[str, str, Any], str] = {}
        self.payloads_dropped = 0  # events sent without their retry payload (Omitted: too big, or not exact in JSON)

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
        or, when it was not plain, its JSON made at record time (RawJSON). Exact or absent: one
        left out says why in the fields' `payloadOmitted`."""
        engine, kind, task_id, snap, worker, occurred_at, payload = item[:7]  # an eighth (policy) and a ninth (weight) may follow
        if payload is None or type(payload) is RawJSON:
            fields = fields_json(snap, extra, keep)
            tail = "}" if payload is None else f',"payload":{payload}}}'
        elif type(payload) is Omitted:  # left out at record time (snapshot.freeze_payload)
            fields = _with_payload_omitted(fields_json(snap, extra, keep), payload)
            tail = "}"
            self.payloads_dropped += 1
        else:
            same: dict[str, str] = {}
            fields = fields_json(snap, extra, keep, payload, same)
            omitted = None
            try:
                tail = f',"payload":{_payload_json(payload, same)}}}'
                if len(tail) > MAX_PAYLOAD_CHARS:  # plain, yet too big to carry (its strings are long)
                    omitted = TOO_BIG
            except ValueError:  # NaN or ±Infinity in it: not JSON, so no exact payload (the event still goes)
                omitted = NOT_FINITE
            except NotJSON as e:  # never from a plain copy (JSON's types only); exact or absent all the same
                omitted = not_json(e.kind)
            if omitted is not None:
                fields = _with_payload_omitted(fields, omitted)
                tail = "}"
                self.payloads_dropped += 1
        return (f'{self._head(engine, kind, worker)}{event_id(id_prefix)}","taskId":{json_str(str(task_id)[:255])},'
                f'"occurredAt":{int(occurred_at * 1000)},"fields":{fields}{tail}')


def _with_payload_omitted(fields: str, omitted: Omitted) -> str:
    """The fields' JSON object with `payloadOmitted` added: why the retry payload was left out,
    which the timeline shows, so z4j can say why the task cannot be retried."""
    field = _key("payloadOmitted") + json_str(omitted.reason)
    return f"{{{field}}}" if fields == "{}" else f"{fields[:-1]},{field}}}"


def _payload_json(payload: dict[str, Any], same: dict[str, str]) -> str:
    """A plain payload's JSON, its args / kwargs taken from the fields' JSON where it is the same
    text (fields_json): each is encoded once for both, the usual enqueue with nothing to hide.
    Strings (name, queue) by json_str, what the encoder calls for them, without its set-up."""
    if not same:
        return encode_payload(payload)
    return "{" + ",".join(_key(k) + (same.get(k) or (json_str(v) if type(v) is str else encode_payload(v))) for k, v in payload.items()) + "}"
