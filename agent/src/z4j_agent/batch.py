"""Envelopes (v1, backend/src/ingest/envelope.ts) and signed batches (docs/agent-protocol.md)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import time
from json.encoder import c_encode_basestring, c_make_encoder, py_encode_basestring
from typing import Any, NamedTuple

from .os_signals import reraise_if_from_a_signal_handler

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 1024 * 1024
MAX_EVENT_BYTES = MAX_BATCH_BYTES - 512  # the events of one batch together, its head aside
# A retry payload is sent only within this many characters of JSON: the event that carries it
# repeats its args and kwargs in its fields, and must fit in a batch.
MAX_PAYLOAD_CHARS = MAX_EVENT_BYTES // 2


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
json_str = c_encode_basestring or py_encode_basestring  # a str's JSON (quoted, escaped)


class NotJSON(Exception):
    """Raised by the retry payload's encoders where json would call `default`: a value JSON has no
    type for (a datetime, Decimal, UUID, bytes, set, any object). Its str() would travel in its
    place, and a retry would call the task with that text: the payload is left out instead."""

    def __init__(self, kind: type) -> None:
        self.kind = kind


def _not_json(value: Any) -> Any:
    raise NotJSON(type(value))


def _sender_encoder(default: Any) -> Any:
    """An encoder for what the agent built itself (redacted and plain copies, payload copies,
    worker stats, command results: trees without cycles): json's C encoder made once and called
    directly, without the cycle check (a mark per dict and list: ~11% of the encoding).
    JSONEncoder.encode makes a new C encoder per call, ~1.6 µs here: more than encoding a small
    value, and the sender encodes two or three per event. Stateless, so any thread may use it.
    A user's objects reach JSON only through raw_json, which keeps the check."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=default, check_circular=False, allow_nan=False)
    if c_make_encoder is None:  # no C accelerator (not CPython)
        return encoder.encode
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan)
    c = c_make_encoder(None, encoder.default, json_str, None, ":", ",", False, False, False)
    return lambda value: "".join(c(value, 0))


# What is shown (redacted copies, whose objects are already text) and what the agent made: any
# value left is shown as its str().
encode_value = _sender_encoder(str)
# A retry payload's plain copy: only JSON's types, so NotJSON is never raised; should one slip
# in, the payload is left out rather than carry its str().
encode_payload = _sender_encoder(_not_json)
# A retry payload that is not plain (raw_json): the user's objects, so with the cycle check. One
# encoder: json.dumps with any option builds a new one per call, which costs more than a small event.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_not_json, allow_nan=False).encode


class RawJSON(str):
    """JSON text that goes into the batch as it is. The retry payload is serialised once, when the
    event is recorded: a snapshot of the call as sent (later changes to its objects do not leak in),
    exact (JSON's own types only), and never serialised again by the sender."""


class Omitted:
    """A retry payload left out, and why: the text of the event's `payloadOmitted`, which the
    task's timeline shows (and z4j, where it says the task cannot be retried)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Omitted({self.reason!r})"


TOO_BIG = Omitted(f"its JSON passes {MAX_PAYLOAD_CHARS // 1024} KiB")
NOT_FINITE = Omitted("its arguments hold NaN or an infinity, which JSON cannot carry")
_MAX_TYPE_NAME = 80


def _type_name(kind: type) -> str:
    """A type's qualified name, cut: never a value (it may be a secret, and the timeline is not
    redacted)."""
    try:
        name = kind.__qualname__
    except Exception as caught:  # a metaclass's own __qualname__ that raises
        reraise_if_from_a_signal_handler(caught)
        name = None
    if not isinstance(name, str):
        name = "object"
    if len(name) > _MAX_TYPE_NAME:  # its end kept: the class's own name (a long head is `f.<locals>.`)
        name = "…" + name[1 - _MAX_TYPE_NAME:]
    return name


def not_json(kind: type) -> Omitted:
    """Why a payload holding a value of type `kind` is left out."""
    return Omitted(f"its arguments hold a value of type {_type_name(kind)}, which JSON cannot carry exactly")


# What JSON changes without a word (json never calls `default` for them). The task of an engine
# whose message is JSON received them changed already: its payload is exact as it is. One whose
# message keeps Python types (pickle, msgpack) received them as they were, and a retry from z4j
# would call it with another value ({"1": ...} for {1: ...}, [1, 2] for (1, 2), 1 for Color.RED).
NESTED_TUPLE = Omitted("its arguments hold a tuple, which JSON would turn into a list")
# A subclass of JSON's types, and what JSON makes of it (the first base it has, in this order).
_BASES = ((int, "an int", "an int"), (float, "a float", "a float"), (str, "a str", "a str"), (dict, "a dict", "a dict"),
          (list, "a list", "a list"), (tuple, "a tuple", "a list"))


def key_not_str(kind: type) -> Omitted:
    """Why a payload holding a dict key of type `kind` (an int, float, bool or None, or a subclass
    of str, int or float) is left out, for an engine whose message keeps Python types."""
    return Omitted(f"its arguments hold a dict key of type {_type_name(kind)}, which JSON would turn into a string")


def subclass(kind: type) -> Omitted:
    """Why a payload holding an instance of `kind`, a subclass of one of JSON's types (an IntEnum,
    a StrEnum, a namedtuple, an OrderedDict), is left out, for an engine whose message keeps
    Python types: JSON would carry it as its base type."""
    for base, name, becomes in _BASES:
        if issubclass(kind, base):
            return Omitted(f"its arguments hold a value of type {_type_name(kind)} ({name} subclass), which JSON would turn into {becomes}")
    return not_json(kind)


class Reshaped(Exception):
    """Raised by _longer_than, for an engine whose message keeps Python types, at the first value
    JSON would change without a word: why the payload is left out."""

    def __init__(self, omitted: Omitted) -> None:
        self.omitted = omitted


def raw_json(value: Any) -> RawJSON | Omitted | None:
    """The value's JSON, exact: else Omitted when it holds a value JSON has no type for (NotJSON)
    or NaN or ±Infinity, or None when it cannot be JSON at all (a key JSON cannot have, a cycle,
    a nesting past the stack). The event then goes without the payload."""
    try:
        return RawJSON(_encode(value))
    except NotJSON as e:
        return not_json(e.kind)
    except ValueError as e:  # NaN or ±Infinity, or a cycle
        return NOT_FINITE if str(e).startswith("Out of range float") else None
    except Exception as caught:  # TypeError (a key), RecursionError, or whatever a subclass's items() raises
        reraise_if_from_a_signal_handler(caught)
        return None


def raw_json_within(value: Any, limit: int, keeps_types: bool = False) -> RawJSON | Omitted | None:
    """raw_json, or TOO_BIG when the JSON would be longer than `limit` characters. Decided before
    encoding when it surely is (a task's argument of a million rows must not be encoded whole on
    its thread, nor held in the buffer), so the work stays within the limit's, not the value's.
    The encoder stops at the first value JSON has no type for, so its work is bounded too.
    `keeps_types`: the value is a retry payload for an engine whose message keeps Python types;
    one holding what JSON would change (a key that is not a str, a tuple below the payload's own
    values, a subclass of JSON's types) is left out, saying why, found by the same walk."""
    try:
        if _longer_than(value, limit, keeps_types):
            return TOO_BIG
    except Reshaped as e:
        return e.omitted
    except Exception as caught:  # a subclass whose __len__ or items raise: it cannot be JSON either (as in raw_json)
        reraise_if_from_a_signal_handler(caught)
        return None
    text = raw_json(value)
    return TOO_BIG if type(text) is RawJSON and len(text) > limit else text


def _longer_than(value: Any, limit: int, keeps_types: bool = False) -> bool:
    """Whether the JSON of `value` is surely longer than `limit` characters: a lower bound of its
    length (a string's characters and quotes, a character for any other value, brackets, keys and
    separators), added up until it passes the limit, so the work is within the limit's, never the
    value's: a container of more items than the limit allows is too big before it is read. A value
    JSON has no type for (a set, bytes, a record, any object) counts as a character: the encoder,
    in the same order, stops there (its str() is never made). With `keeps_types`, raises Reshaped
    at the first value JSON would change (raw_json_within): a tuple is allowed only as the
    outermost value's own item (a payload's args)."""
    size = -1  # each value is counted with a separator after it: the outermost has none
    pending = [iter((value,))]
    while pending:
        for v in pending[-1]:
            t = type(v)
            if t is str:
                size += len(v) + 3
            elif t in _SCALARS:
                size += 2
            elif t is list or t is tuple or t is dict or isinstance(v, (dict, list, tuple)):
                size += 2 * len(v) + 2  # brackets, and per item a character (at least) and a separator
                if size > limit:
                    return True
                if keeps_types:
                    if t not in _BUILT_IN_CONTAINERS:
                        raise Reshaped(subclass(t))
                    if t is tuple and len(pending) > 2:  # within the payload's args, kwargs or options
                        raise Reshaped(NESTED_TUPLE)
                    if t is dict:
                        kinds = set(map(type, v))
                        if kinds != _STR and kinds:
                            key = next(k for k in v if type(k) is not str)
                            if key is None or isinstance(key, (str, int, float)):  # else JSON refuses it (raw_json)
                                raise Reshaped(key_not_str(type(key)))
                # A subclass's own __iter__ (or values()) may yield on and on: it is read only by
                # this loop, where each item counts, so it ends past the limit (its keys: none).
                items = v
                if isinstance(v, dict):
                    if t is dict:
                        size += _keys_length(v)
                    items = v.values()
                # The usual big one, a list of numbers or of strings, added up without a loop here.
                if len(v) >= 16 and t in _BUILT_IN_CONTAINERS:
                    kinds = set(map(type, items))
                    if kinds <= _SCALARS:
                        continue
                    if kinds == _STR:  # each its characters and quotes (its separator is counted)
                        size += sum(map(len, items)) + len(v)
                        continue
                size -= 2 * len(v)  # each item adds itself
                pending.append(iter(items))
                break
            elif isinstance(v, str):
                if keeps_types:
                    raise Reshaped(subclass(t))
                size += len(v) + 3
            else:
                if keeps_types and isinstance(v, (int, float)):  # bool is a scalar: an IntEnum, a float subclass
                    raise Reshaped(subclass(t))
                size += 2
            if size > limit:
                return True
        else:
            pending.pop()
        if size > limit:
            return True
    return False


_SCALARS = frozenset({int, float, bool, type(None)})
_BUILT_IN_CONTAINERS = frozenset({list, tuple, dict})
_STR = {str}


def _keys_length(d: dict[Any, Any]) -> int:
    """At least the length of a dict's keys in JSON (quotes and colon)."""
    try:
        return sum(map(len, d)) + 3 * len(d)
    except TypeError:  # a key that is not a string (JSON makes it one): counted as none
        return 0


def sign(body: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


class SignedBatch(NamedTuple):
    body: bytes
    sig: str
    events: int  # how many events it holds
    end: int  # the index, in the events it was made of, past its last one


def signed_batches(agent_id: str, secret: str, project: str, events: list[str], seq: int, dropped: int,
                   too_big: list[int] | None = None) -> list[SignedBatch]:
    """The events (each an envelope's JSON text) as one or more signed batches, each within the
    size limits. An event too big even alone is left out (the service would refuse its whole
    batch), its index added to `too_big`: the caller counts it dropped."""
    out: list[SignedBatch] = []
    chunk: list[bytes] = []
    size = 0

    def seal(data: bytes, count: int, end: int) -> None:
        # Each event is serialised once; the batch is its head with the events' bytes spliced in.
        head = encode_value({"v": 1, "agent": agent_id, "project": project, "sentAt": int(time.time() * 1000), "nonce": os.urandom(16).hex(),
                             "seq": seq + len(out), "dropped": dropped, "events": []}).encode("utf-8")
        body = b"".join((head[:-2], data, b"]}"))  # head ends in `[]}`
        out.append(SignedBatch(body, sign(body, secret), count, end))

    if len(events) <= MAX_BATCH_EVENTS:
        # The usual batch: its events encoded to UTF-8 in one call.
        data = ",".join(events).encode("utf-8")
        if len(data) <= MAX_EVENT_BYTES:
            if events:
                seal(data, len(events), len(events))
            return out
    for i, ev in enumerate(events):
        data = ev.encode("utf-8")
        n = len(data) + 1
        if n > MAX_EVENT_BYTES:
            if too_big is not None:
                too_big.append(i)
            continue
        if len(chunk) >= MAX_BATCH_EVENTS or size + n > MAX_EVENT_BYTES:
            seal(b",".join(chunk), len(chunk), i)
            chunk, size = [], 0
        chunk.append(data)
        size += n
    if chunk:
        seal(b",".join(chunk), len(chunk), len(events))
    return out
