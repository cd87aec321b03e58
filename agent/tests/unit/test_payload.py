"""The retry payload is exact or absent: z4j retries a task (and runs a schedule) with the call the
payload holds, so a value JSON has no type for must not travel as its str() (a retry would call
the task with the text "2026-01-01 00:00:00" where it had a datetime). Such a payload is left out,
and the event says why in `payloadOmitted`, naming the value's type, never the value."""

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import uuid

import pytest

from z4j_agent import core
from z4j_agent.batch import Omitted, RawJSON, raw_json_within


@dataclasses.dataclass
class Order:
    id: int
    password: str


WHEN = datetime.datetime(2026, 1, 1, 9, 30)
NOT_JSON = [  # (an argument, the type payloadOmitted names)
    (WHEN, "datetime"),
    (datetime.date(2026, 1, 1), "date"),
    (decimal.Decimal("12.50"), "Decimal"),
    (uuid.UUID("12345678-1234-5678-1234-567812345678"), "UUID"),
    (b"hunter2x", "bytes"),
    ({"hunter2x"}, "set"),
    (frozenset({1}), "frozenset"),
    (Order(7, "hunter2x"), "Order"),
    (object(), "object"),
    ({"at": {"when": WHEN}}, "datetime"),  # nested in a dict
    ([1, [2, decimal.Decimal("1.5")]], "Decimal"),  # nested in a list
    ([1] * 100 + [b"x"], "bytes"),  # in a value too big to be copied (not plain: encoded at once)
]


def enqueue(captured, task_id, args, kwargs=None):
    kwargs = {} if kwargs is None else kwargs
    core.get_agent().task_event("rq", "enqueued", task_id, fields={"name": "t", "args": args, "kwargs": kwargs},
                                payload={"name": "t", "args": args, "kwargs": kwargs, "queue": "q", "options": {}})
    return captured.of(task_id, "enqueued")


@pytest.mark.parametrize(("value", "kind"), NOT_JSON, ids=[k for _, k in NOT_JSON])
def test_an_argument_json_cannot_carry_leaves_the_payload_out_and_says_its_type(captured, value, kind):
    dropped = core.get_agent().stats()["payloadsDropped"]
    for task_id, args, kwargs in (("in-args", [1, value], {}), ("in-kwargs", [], {"a": "plain", "v": value})):
        event = enqueue(captured, task_id, args, kwargs)
        assert "payload" not in event
        assert event["fields"]["payloadOmitted"] == f"its arguments hold a value of type {kind}, which JSON cannot carry exactly"
        assert event["fields"]["name"] == "t" and ("args" in event["fields"] or "kwargs" in event["fields"])  # shown as before
        assert "hunter2x" not in event["fields"]["payloadOmitted"]  # nothing of the value: the timeline shows it
    assert core.get_agent().stats()["payloadsDropped"] == dropped + 2


def test_the_fields_still_show_what_the_payload_leaves_out(captured):
    event = enqueue(captured, "shown", [WHEN, Order(7, "hunter2x")], {"amount": decimal.Decimal("12.50")})
    assert event["fields"]["args"] == [WHEN.isoformat(), {"__type__": "Order", "id": 7, "password": "[redacted]"}]
    assert event["fields"]["kwargs"] == {"amount": "12.50"}


PLAIN = [
    ([1, "two", 2.5, None, True, False], {"k": {"n": [1, 2]}, "s": "日本語"}),  # copied, encoded by the sender
    ([(1, 2)], {}),  # a tuple is a list in JSON, as every engine's JSON sends it
    ([list(range(100))], {"rows": [{"id": i} for i in range(70)]}),  # not plain (over 64 items): JSON at once
    ([[[[[["deep"]]]]]], {"big": 2**60, "x": -0.5}),  # not plain (nested past 4): JSON at once
]


@pytest.mark.parametrize(("args", "kwargs"), PLAIN)
def test_plain_arguments_are_still_carried_exactly(captured, args, kwargs):
    event = enqueue(captured, "plain", args, kwargs)
    assert event["payload"] == json.loads(json.dumps({"name": "t", "args": args, "kwargs": kwargs, "queue": "q", "options": {}}))
    assert "payloadOmitted" not in event["fields"]


def test_nan_leaves_the_payload_out_and_says_so(captured):
    for task_id, args in (("nan-plain", [float("nan")]), ("inf-not-plain", [list(range(70)) + [float("inf")]])):
        event = enqueue(captured, task_id, args)
        assert "payload" not in event
        assert event["fields"]["payloadOmitted"] == "its arguments hold NaN or an infinity, which JSON cannot carry"


def test_the_reason_names_the_first_value_json_cannot_carry_and_cuts_a_long_name_keeping_its_end():
    class Named:
        pass

    Named.__qualname__ = "outer.<locals>." + "x" * 200 + ".Named"
    reason = raw_json_within({"args": [1, WHEN, b"later"], "kwargs": {}}, 1000).reason
    assert reason == "its arguments hold a value of type datetime, which JSON cannot carry exactly"
    reason = raw_json_within({"args": [Named()]}, 1000).reason
    name = reason.removeprefix("its arguments hold a value of type ").removesuffix(", which JSON cannot carry exactly")
    assert len(name) == 80 and name.startswith("…x") and name.endswith("x.Named")


def test_no_str_is_made_of_a_value_json_cannot_carry():
    class NoStr:
        def __str__(self):
            raise AssertionError("str() made")

        __repr__ = __str__

    omitted = raw_json_within({"args": [{"deep": [NoStr()]}]}, 1000)
    assert type(omitted) is Omitted and omitted.reason.endswith("<locals>.NoStr, which JSON cannot carry exactly")


def test_json_s_own_types_are_encoded_as_before():
    value = {"args": [1, 2.5, "s", None, True, [1, {"k": "v"}]] * 20, "kwargs": {"n": (1, 2)}}
    text = raw_json_within(value, 10_000)
    assert type(text) is RawJSON and text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_a_container_whose_len_raises_costs_the_payload_not_the_event(captured):
    class Broken(list):
        def __len__(self):
            raise RuntimeError("broken __len__")

    # The size check read it outside the encoder's guard: the exception lost the enqueued event.
    assert raw_json_within({"args": [Broken([1])]}, 1000) is None
    event = enqueue(captured, "broken-len", [Broken([1])])
    assert "payload" not in event and event["fields"]["name"] == "t"


# What JSON changes without a word: exact for an engine whose message is JSON (the task received it
# changed already), not for one whose message keeps Python types (pickle, msgpack: RQ, Huey, arq,
# Celery with the pickle serializer), where a retry would call the task with other values.
class Color(enum.IntEnum):
    RED = 1


class Ratio(float):
    pass


class Name(str):
    pass


Point = collections.namedtuple("Point", "x y")
KEY = "its arguments hold a dict key of type {}, which JSON would turn into a string"
TUPLE = "its arguments hold a tuple, which JSON would turn into a list"
SUBCLASS = "its arguments hold a value of type {} ({} subclass), which JSON would turn into {}"
RESHAPED = [  # (args, kwargs, why a payload for an engine whose message keeps types is left out)
    ([{1: "a"}], {}, KEY.format("int")),
    ([], {"m": {"n": {2.5: "a", None: "b"}}}, KEY.format("float")),  # nested in a dict: the first key JSON changes
    ([], {"m": {None: "b"}}, KEY.format("NoneType")),
    ([{True: 1}], {}, KEY.format("bool")),
    ([{Name("k"): 1}], {}, KEY.format("Name")),
    ([(1, 2)], {}, TUPLE),
    ([], {"point": {"xy": (1, 2)}}, TUPLE),  # nested in a dict
    ([[1, [2, (3,)]]], {}, TUPLE),  # nested in a list
    ([list(range(70)) + [(1, 2)]], {}, TUPLE),  # in a value too big to be copied (not plain: measured at once)
    ([{i: i for i in range(70)}], {}, KEY.format("int")),
    ([Color.RED], {}, SUBCLASS.format("Color", "an int", "an int")),
    ([], {"c": {"c": [Color.RED]}}, SUBCLASS.format("Color", "an int", "an int")),
    ([Ratio(0.5)], {}, SUBCLASS.format("Ratio", "a float", "a float")),
    ([Name("x")], {}, SUBCLASS.format("Name", "a str", "a str")),
    ([Point(1, 2)], {}, SUBCLASS.format("Point", "a tuple", "a list")),
    ([collections.OrderedDict(a=1)], {}, SUBCLASS.format("OrderedDict", "a dict", "a dict")),
    ([collections.UserList([1])], {}, "its arguments hold a value of type UserList, which JSON cannot carry exactly"),  # not a list: as before
]
RESHAPED_IDS = ["int-key", "float-key", "none-key", "bool-key", "str-subclass-key", "tuple", "tuple-in-dict", "tuple-in-list", "tuple-not-plain",
                "int-keys-not-plain", "intenum", "intenum-nested", "float-subclass", "str-subclass", "namedtuple", "ordereddict", "userlist"]
if hasattr(enum, "StrEnum"):  # Python 3.11+
    Mode = enum.StrEnum("Mode", {"FAST": "fast"})
    RESHAPED.append(([], {"mode": Mode.FAST}, SUBCLASS.format("Mode", "a str", "a str")))
    RESHAPED_IDS.append("strenum")


def enqueue_typed(captured, task_id, args, kwargs, keeps_types):
    core.get_agent().task_event("rq", "enqueued", task_id, fields={"name": "t", "args": args, "kwargs": kwargs},
                                payload={"name": "t", "args": args, "kwargs": kwargs, "queue": "q", "options": {}}, keeps_types=keeps_types)
    return captured.of(task_id, "enqueued")


@pytest.mark.parametrize(("args", "kwargs", "why"), RESHAPED, ids=RESHAPED_IDS)
def test_what_json_would_change_leaves_the_payload_out_where_the_message_keeps_python_types(captured, args, kwargs, why):
    dropped = core.get_agent().stats()["payloadsDropped"]
    for task_id, call_args in (("args-list", args), ("args-tuple", tuple(args))):  # the args themselves may be a tuple
        event = enqueue_typed(captured, task_id, call_args, kwargs, keeps_types=True)
        assert "payload" not in event
        assert event["fields"]["payloadOmitted"] == why
        assert event["fields"]["name"] == "t"  # the event still goes, its fields shown
    assert core.get_agent().stats()["payloadsDropped"] == dropped + 2


@pytest.mark.parametrize(("args", "kwargs", "why"), [r for r in RESHAPED if "JSON cannot carry" not in r[2]],
                         ids=[i for r, i in zip(RESHAPED, RESHAPED_IDS) if "JSON cannot carry" not in r[2]])
def test_what_json_would_change_is_carried_as_json_makes_it_where_the_message_is_json(captured, args, kwargs, why):
    event = enqueue_typed(captured, "json-engine", tuple(args), kwargs, keeps_types=False)
    assert event["payload"] == json.loads(json.dumps({"name": "t", "args": args, "kwargs": kwargs, "queue": "q", "options": {}}))
    assert "payloadOmitted" not in event["fields"]


@pytest.mark.parametrize("args", [
    (1, "two", [3, {"k": [4.5, None, True]}]),  # the args tuple itself: plain, copied
    tuple(range(100)),  # the args tuple itself, too big to be copied (measured, then JSON at once)
    (list(range(70)), {"rows": [{"id": i} for i in range(70)]}),
], ids=["plain", "args-tuple-not-plain", "nested-not-plain"])
def test_a_plain_call_is_carried_where_the_message_keeps_python_types(captured, args):
    event = enqueue_typed(captured, "typed-plain", args, {"k": {"s": "v"}}, keeps_types=True)
    assert event["payload"] == {"name": "t", "args": json.loads(json.dumps(args)), "kwargs": {"k": {"s": "v"}}, "queue": "q", "options": {}}
    assert "payloadOmitted" not in event["fields"]


def test_a_key_json_refuses_is_no_reason_of_its_own():
    """A tuple key: json raises (no JSON at all), it does not turn it into a string."""
    assert raw_json_within({"args": [{(1, 2): "a"}]}, 1000, keeps_types=True) is None
