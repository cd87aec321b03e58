"""The retry payload is exact or absent: z4j retries a task (and runs a schedule) with the call the
payload holds, so a value JSON has no type for must not travel as its str() (a retry would call
the task with the text "2026-01-01 00:00:00" where it had a datetime). Such a payload is left out,
and the event says why in `payloadOmitted`, naming the value's type, never the value."""

import dataclasses
import datetime
import decimal
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
