"""Snapshots of a task event's values, taken in the task's thread so the sender thread can redact
and serialise them later: the task may change its args, kwargs or result once the hook returns,
and what is sent must be what they were when the event happened.

Plain values (JSON scalars, and lists, tuples and str-keyed dicts of them, small and shallow) are
copied, which costs far less than redacting them; strings are immutable, so they are kept as they
are (a long one cut: LongText). Anything else (objects, big or deep structures) is redacted at once, as before, and marked
`Scrubbed` so the sender does not redact it twice."""

from __future__ import annotations

from typing import Any, Callable

from .batch import MAX_PAYLOAD_CHARS, raw_json_within
from .redact import LongText

MAX_STRING = 32768  # scrub's own cut: a longer string is cut or redacted now, not held whole in the buffer
TEXT_FIELDS = ("exception", "traceback")  # free text: cut to MAX_STRING, then its secrets hidden
_MAX_ITEMS = 64
_MAX_DEPTH = 4
# Items of the containers nested in a copied value, in all: 64 items at each of 4 levels alone let
# a copy be 64**4 items (containers that share their items: `[[[row] * 64] * 64] * 64`, a few KB
# to the task, took seconds and 144 MiB held in the buffer). 64 dicts of 64 keys are within it.
_MAX_NESTED = 8192
_ATOMS = frozenset({int, float, bool, type(None)})


class _NotPlain:
    pass


NOT_PLAIN: Any = _NotPlain()


class Scrubbed:
    """A field value redacted in the task's thread (it was not plain)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def plain_copy(v: Any, max_string: int | None = MAX_STRING, depth: int = 0, budget: list[int] | None = None, keeps_types: bool = False) -> Any:
    """A deep copy of `v` if it is plain (tuples become lists, as in JSON), else NOT_PLAIN. A
    string longer than `max_string` is not plain, but at MAX_STRING (the fields' copies, which the
    sender redacts) it is cut: a LongText, its head and length, redacted by the sender as scrub
    would have redacted the whole string. Not redacted now: that cost the task ~1-2 µs per
    character of its head (50 ms for a 75 KB string), not copied whole: it would stay in the buffer.
    Bounded in total too: the items of the containers under the first, `budget` (made when the
    first is met) counting down from _MAX_NESTED. With `keeps_types` (a retry payload's values,
    for an engine whose message keeps Python types), a tuple below depth 1 is not plain either:
    a list would not be exact (keys that are not str and subclasses never are plain)."""
    t = type(v)
    if t is str:
        return _string(v, max_string)
    if t in _ATOMS:
        return v
    if depth >= _MAX_DEPTH or t not in (list, tuple, dict) or len(v) > _MAX_ITEMS or (keeps_types and t is tuple and depth > 1):
        return NOT_PLAIN
    if budget is not None:
        budget[0] -= len(v)
        if budget[0] < 0:
            return NOT_PLAIN
    if t is dict:
        out: dict[str, Any] = {}
        for k, x in v.items():
            if type(k) is not str:
                return NOT_PLAIN
            tx = type(x)
            if tx is str:  # the usual item, without a call
                if max_string is not None and len(x) > max_string:
                    x = _string(x, max_string)
                    if x is NOT_PLAIN:
                        return x
            elif tx not in _ATOMS:
                if budget is None:
                    budget = [_MAX_NESTED]
                x = plain_copy(x, max_string, depth + 1, budget, keeps_types)
                if x is NOT_PLAIN:
                    return x
            out[k] = x
        return out
    items = []
    for x in v:
        tx = type(x)
        if tx is str:
            if max_string is not None and len(x) > max_string:
                x = _string(x, max_string)
                if x is NOT_PLAIN:
                    return x
        elif tx not in _ATOMS:
            if budget is None:
                budget = [_MAX_NESTED]
            x = plain_copy(x, max_string, depth + 1, budget, keeps_types)
            if x is NOT_PLAIN:
                return x
        items.append(x)
    return items


def _string(v: str, max_string: int | None) -> Any:
    """plain_copy of a string."""
    if max_string is None or len(v) <= max_string:
        return v
    return LongText(v, MAX_STRING) if max_string == MAX_STRING else NOT_PLAIN


def freeze(fields: dict[str, Any], payload: dict[str, Any] | None, scrub_now: Callable[[Any, Any], Any], pol: Any, keeps_types: bool | Callable[[], bool] = False) -> Any:
    """Takes a task event's snapshot in place: `fields` and `payload` are dicts the hook made for
    this one event (no copy of them needed), their values may be the task's own objects. Strings
    and numbers stay; other plain values are replaced by copies; what is not plain is redacted now,
    by `scrub_now(value, pol)`. Args and kwargs that are the payload's own share its copy (the
    sender changes neither). A field set to None stays (the sender leaves it out: no value to
    report). Returns the payload's snapshot (`freeze_payload`, with `keeps_types`)."""
    shared = None
    if payload is not None:
        args, kwargs = payload.get("args"), payload.get("kwargs")
        payload = freeze_payload(payload, keeps_types)
        if type(payload) is dict:
            shared = (args, kwargs)
    for k, v in fields.items():  # values replaced, no key added or removed: iterating stays valid
        t = type(v)
        if t is str:
            if len(v) > MAX_STRING:
                fields[k] = v[:MAX_STRING] if k in TEXT_FIELDS else LongText(v, MAX_STRING)
        elif t not in _ATOMS:
            if shared is not None and (k == "args" or k == "kwargs") and v is shared[k == "kwargs"]:
                fields[k] = payload[k]
                continue
            copy = plain_copy(v)
            fields[k] = copy if copy is not NOT_PLAIN else Scrubbed(scrub_now(v, pol))
    return payload


def freeze_payload(payload: dict[str, Any], keeps_types: bool | Callable[[], bool] = False) -> Any:
    """The retry payload, exact, in place: its plain values replaced by copies (serialised by the
    sender), else, when one is not plain, its JSON now. Exact or absent: an Omitted, saying why,
    when it holds a value JSON has no type for (a datetime, Decimal, bytes, set, any object: its
    str() would travel in its place) or NaN, or when it passes MAX_PAYLOAD_CHARS (TOO_BIG); None
    when it cannot be JSON at all (a cycle). The event goes without it, counted by the sender.
    `keeps_types`: the engine's message keeps Python types (pickle, msgpack), so what JSON changes
    without a word is not exact either: a dict key that is not a str, a tuple below the payload's
    own values (its args are one), a subclass of int, float, str, list, tuple or dict (an IntEnum,
    a namedtuple). The plain copy refuses them, and the walk that measures the payload says which.
    `keeps_types` may be a function that tells (a look the engine would rather not pay on every
    call): asked only when the plain copy is refused, which a plain call never is; the copy is
    then taken as if it did (strict)."""
    strict = keeps_types if type(keeps_types) is bool else True
    for k, v in payload.items():
        if type(v) not in _ATOMS and type(v) is not str:
            copy = plain_copy(v, MAX_PAYLOAD_CHARS, 1, None, strict)
            if copy is NOT_PLAIN:
                return raw_json_within(payload, MAX_PAYLOAD_CHARS, keeps_types if strict is keeps_types else bool(keeps_types()))
            payload[k] = copy
    return payload
