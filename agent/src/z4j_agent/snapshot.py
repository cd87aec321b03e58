"""Snapshots of a task event's values, taken in the task's thread so the sender thread can redact
and serialise them later: the task may change its args, kwargs or result once the hook returns,
and what is sent must be what they were when the event happened.

Plain values (JSON scalars, and lists, tuples and str-keyed dicts of them, small and shallow) are
copied, which costs far less than redacting them; strings are immutable, so they are kept as they
are. Anything else (objects, big or deep structures) is redacted at once, as before, and marked
`Scrubbed` so the sender does not redact it twice."""

from __future__ import annotations

from typing import Any, Callable

from .batch import raw_json

MAX_STRING = 32768  # scrub's own cut: a longer string is cut or redacted now, not held whole in the buffer
TEXT_FIELDS = ("exception", "traceback")  # free text: cut to MAX_STRING, then its secrets hidden
_MAX_ITEMS = 64
_MAX_DEPTH = 4
_ATOMS = frozenset({int, float, bool, type(None)})


class _NotPlain:
    pass


NOT_PLAIN: Any = _NotPlain()


class Scrubbed:
    """A field value redacted in the task's thread (it was not plain)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def plain_copy(v: Any, max_string: int | None = MAX_STRING, depth: int = 0) -> Any:
    """A deep copy of `v` if it is plain (tuples become lists, as in JSON), else NOT_PLAIN."""
    t = type(v)
    if t is str:
        return v if max_string is None or len(v) <= max_string else NOT_PLAIN
    if t in _ATOMS:
        return v
    if depth >= _MAX_DEPTH or t not in (list, tuple, dict) or len(v) > _MAX_ITEMS:
        return NOT_PLAIN
    if t is dict:
        out: dict[str, Any] = {}
        for k, x in v.items():
            if type(k) is not str:
                return NOT_PLAIN
            if type(x) not in _ATOMS:
                x = plain_copy(x, max_string, depth + 1)
                if x is NOT_PLAIN:
                    return x
            out[k] = x
        return out
    items = []
    for x in v:
        if type(x) not in _ATOMS:
            x = plain_copy(x, max_string, depth + 1)
            if x is NOT_PLAIN:
                return x
        items.append(x)
    return items


def freeze_fields(fields: dict[str, Any], scrub_now: Callable[[Any, Any], Any], pol: Any, payload: Any = None, frozen_payload: Any = None) -> dict[str, Any]:
    """The fields as they are now; a field set to None is left out (no value to report). Args
    and kwargs that are the payload's own share its copy (the sender never changes either).
    What is not plain is redacted now, by `scrub_now(value, pol)`."""
    out: dict[str, Any] = {}
    shared = type(frozen_payload) is dict
    for k, v in fields.items():
        t = type(v)
        if shared and (k == "args" or k == "kwargs") and v is payload.get(k):
            out[k] = frozen_payload[k]
            continue
        if t is str:
            out[k] = v if len(v) <= MAX_STRING else v[:MAX_STRING] if k in TEXT_FIELDS else Scrubbed(scrub_now(v, pol))
        elif t in _ATOMS:
            if v is not None:
                out[k] = v
        else:
            copy = plain_copy(v)
            out[k] = copy if copy is not NOT_PLAIN else Scrubbed(scrub_now(v, pol))
    return out


def freeze_payload(payload: dict[str, Any] | None) -> Any:
    """The retry payload, exact: a plain copy (serialised by the sender), else its JSON now."""
    if payload is None:
        return None
    copy = plain_copy(payload, max_string=None)
    return copy if copy is not NOT_PLAIN else raw_json(payload)
