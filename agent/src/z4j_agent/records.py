"""Records: objects made of declared fields (dataclass instances, pydantic models v2 and v1, attrs
instances, namedtuples; and SimpleNamespaces, whose repr shows their every attribute). Redaction
shows one as a mapping of its fields, so a `password` field is hidden by its key and a huge field
is read only as far as the bounds allow, never repr'd whole on the task's thread (a retry
payload holding one is left out: JSON has no type for it). Told apart by attributes of their
type: the agent depends on none of these libraries."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Iterator

from .os_signals import reraise_if_from_a_signal_handler


class _Unreadable:
    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE: Any = _Unreadable()  # a field whose read raised


def record_of(v: Any) -> tuple[str, int, Iterator[tuple[str, Any]]] | None:
    """None when `v` is no record; else its type's name, how many fields it shows, and those
    fields as (name, value), each read when the iterator reaches it (a value whose read raised is
    UNREADABLE). Declared fields only, read with getattr: no property or computed field runs.
    Only the fields its repr shows: one declared with repr=False (a token kept out of logs) stays
    out of sight here too, and so does an attrs field with a repr function of its own (the
    author's text, which may mask the value: the agent does not run that code on the task's
    thread, nor show the value it was written to hide)."""
    if isinstance(v, type):  # a class passed as an argument: its repr is its name
        return None
    cls = type(v)
    extra = None
    try:
        if isinstance(v, tuple):  # a namedtuple (collections' or typing's), or no record
            fields = getattr(cls, "_fields", None)
            if type(fields) is not tuple:
                return None
            names = list(fields)
        elif isinstance(v, types.SimpleNamespace) and cls.__repr__ is types.SimpleNamespace.__repr__:
            attributes = v.__dict__
            return cls.__name__, len(attributes), iter(attributes.items())
        elif dataclasses.is_dataclass(cls):
            names = [f.name for f in dataclasses.fields(v) if f.repr]
        elif type(fields := getattr(cls, "model_fields", None)) is dict and hasattr(cls, "__pydantic_fields_set__"):  # pydantic 2
            names = [k for k, f in fields.items() if getattr(f, "repr", True) is True]
            extra = getattr(v, "__pydantic_extra__", None)  # a model's extra="allow" fields, in its repr too
            if type(extra) is not dict:
                extra = None
        elif type(fields := getattr(cls, "__fields__", None)) is dict and hasattr(cls, "__fields_set__"):  # pydantic 1
            names = [k for k, f in fields.items() if getattr(getattr(f, "field_info", None), "repr", True) is True]
        elif (attributes := getattr(cls, "__attrs_attrs__", None)) is not None:
            names = [a.name for a in attributes if a.repr is True]
        else:
            return None
    except Exception as caught:  # a type whose attributes break when read: not read as a record (its repr is shown)
        reraise_if_from_a_signal_handler(caught)
        return None
    return cls.__name__, len(names) + (len(extra) if extra else 0), _fields(v, names, extra)


def _fields(v: Any, names: list[str], extra: dict[str, Any] | None) -> Iterator[tuple[str, Any]]:
    for name in names:
        try:
            yield name, getattr(v, name)
        except Exception as caught:  # only this field is lost
            reraise_if_from_a_signal_handler(caught)
            yield name, UNREADABLE
    if extra:
        yield from extra.items()
