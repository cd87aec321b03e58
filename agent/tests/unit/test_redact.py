import json
import pathlib

import pytest

from z4j_agent.redact import REDACTED, is_sensitive_key, redact_text, scrub

CORPUS = json.loads((pathlib.Path(__file__).parents[3] / "tests/fixtures/redaction-corpus.json").read_text())


def counting_list(read):
    """A list class that counts in read["items"] the items walked (the walk reads a list's head by slicing)."""

    class Counting(list):
        def __getitem__(self, i):
            out = list.__getitem__(self, i)
            read["items"] += len(out) if isinstance(i, slice) else 1
            return out

    return Counting


@pytest.mark.parametrize("case", CORPUS["secrets"], ids=lambda c: c["text"][:40])
def test_every_secret_in_the_shared_corpus_is_hidden(case):
    assert case["secret"] not in redact_text(case["text"])


@pytest.mark.parametrize("text", CORPUS["ordinary"])
def test_ordinary_values_survive_unchanged(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("key", CORPUS["sensitiveKeys"])
def test_sensitive_keys(key):
    assert is_sensitive_key(key)
    assert scrub({key: "value-123"}) == {key: REDACTED}


@pytest.mark.parametrize("key", CORPUS["ordinaryKeys"])
def test_ordinary_keys(key):
    assert not is_sensitive_key(key)


def test_recursive_cycles_depth_and_size():
    a: dict = {"x": 1}
    a["self"] = a
    assert scrub(a) == {"x": 1, "self": "[cycle]"}
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["n"] = {}
        node = node["n"]
    assert "[depth limit]" in json.dumps(scrub(deep, max_depth=5))
    assert scrub(list(range(10)), max_items=3) == [0, 1, 2, "[7 more items]"]
    assert scrub("x" * 50, max_string=10).startswith("x" * 10 + "…[40 more chars]")


def test_non_json_values_become_safe_text():
    import datetime
    import decimal
    import uuid

    class Weird:
        def __repr__(self):
            raise RuntimeError("boom")

    out = scrub({"when": datetime.date(2026, 1, 2), "d": decimal.Decimal("1.5"), "u": uuid.UUID(int=1), "b": b"\x00\x01", "w": Weird(), "s": {3}})
    assert out == {"when": "2026-01-02", "d": "1.5", "u": "00000000-0000-0000-0000-000000000001", "b": "<2 bytes>", "w": "<Weird>", "s": [3]}
    json.dumps(out)


def test_overrides_redact_more_and_keep_some():
    assert scrub({"iban": "DE89", "token_count": 3}, redact_keys=["iban"], keep_keys=["token_count"]) == {"iban": REDACTED, "token_count": 3}
    assert scrub({"customerIban": "DE89"}, redact_keys=["customer_iban"]) == {"customerIban": REDACTED}


def test_a_policys_own_names_are_hidden_inside_text_too():
    """redact=["customer_ref"] hides the key in a dict, and its value where free text names it
    (an exception's message, a repr), in any of its spellings; other names stay, and without the
    policy the text is left as the built-in names leave it."""
    from z4j_agent.redact import scrub, scrub_plain

    class Order:
        def __repr__(self):
            return "Order(customerRef='C-77', total=3)"

    extra = ("customer_ref",)
    text = "charge failed for customer_ref=C-77, customer-ref: 'C 77' (order=9)"
    hidden = "charge failed for customer_ref=[redacted], customer-ref: '[redacted]' (order=9)"
    assert scrub(text, redact_keys=extra) == hidden
    assert scrub_plain([text], extra) == [hidden]
    assert scrub({"note": text, "order": Order()}, redact_keys=extra) == {"note": hidden, "order": "Order(customerRef='[redacted]', total=3)"}
    assert scrub(text) == text and scrub_plain(text) == text
    assert scrub("customer_reference=C-77", redact_keys=extra) == "customer_reference=C-77"


def test_a_name_value_pair_and_a_secret_shaped_key_are_hidden_too():
    from z4j_agent.redact import scrub, scrub_plain

    headers = [("X-Api-Key", "abcd1234efgh"), ("Accept", "application/json")]
    assert scrub(headers) == [["X-Api-Key", "[redacted]"], ["Accept", "application/json"]]
    assert scrub_plain([["password", "hunter2x"], ["user", "bob"]]) == [["password", "[redacted]"], ["user", "bob"]]
    assert scrub({"postgres://app:pw99999@db/app": "ok"}) == {"postgres://app:[redacted]@db/app": "ok"}
    assert scrub_plain({"postgres://app:pw99999@db/app": 1}) == {"postgres://app:[redacted]@db/app": 1}


def test_a_secret_straddling_the_cut_is_hidden_not_half_shown():
    from z4j_agent.redact import scrub

    class Config:
        def __repr__(self):
            return "Config(" + "x" * 1000 + ", password='hunter2hunter2hunter2')"

    assert "hunter" not in scrub(Config())
    assert "hunter" not in scrub("y" * 40 + "password='hunter2hunter2'", max_string=55)


def test_a_huge_deque_or_array_is_walked_bounded_not_repr_d_whole():
    import array
    import collections

    from z4j_agent.redact import scrub

    class NoRepr(collections.deque):
        def __repr__(self):  # a whole repr is what must not be built
            raise AssertionError("repr'd whole")

    out = scrub({"q": NoRepr(range(2_000_000)), "a": array.array("i", range(2_000_000))}, max_items=10)
    assert out["q"] == [*range(10), "[1999990 more items]"] and out["a"][-1] == "[1999990 more items]"
    assert scrub(collections.deque(["password=hunter2x"])) == ["password=[redacted]"]


def test_an_array_like_value_under_a_secret_key_is_hidden_not_the_whole_payload_lost():
    from z4j_agent.redact import REDACTED, scrub

    class Elementwise:  # as a numpy array or a pandas frame: == gives no bool
        def __eq__(self, other):
            return self

        def __ne__(self, other):
            return self

        def __bool__(self):
            raise ValueError("truth value of an array is ambiguous")

    assert scrub({"password": Elementwise(), "n": 1}) == {"password": REDACTED, "n": 1}


def test_a_container_that_breaks_while_read_is_lost_alone():
    from z4j_agent.redact import UNREDACTABLE, scrub

    class Broken(dict):
        def items(self):
            raise RuntimeError("a lazy mapping whose backend is gone")

    class BrokenList(list):
        def __len__(self):
            raise RuntimeError("no length")

    out = scrub({"kept": "x", "lazy": Broken(a=1), "deep": [1, {"also": BrokenList([2])}]})
    assert out == {"kept": "x", "lazy": UNREDACTABLE, "deep": [1, {"also": UNREDACTABLE}]}


def test_only_the_head_of_a_huge_list_tuple_or_set_is_read():
    from z4j_agent.redact import scrub

    read = {"items": 0}

    def counting(base):
        class Counting(base):  # counts what iterating it reads
            def __iter__(self):
                for x in base.__iter__(self):
                    read["items"] += 1
                    yield x

        return Counting

    for base in (list, tuple, set, frozenset):
        read["items"] = 0
        out = scrub({"v": counting(base)(range(100_000))}, max_items=10)
        assert len(out["v"]) == 11 and out["v"][-1] == "[99990 more items]", base
        assert read["items"] <= 10, f"{base.__name__}: {read['items']} items read"  # a copy of the whole: 100,000


def test_what_scrub_reads_is_bounded_in_total_not_only_per_level():
    """Containers that share their items are small to hold and to pickle (RQ, Huey and arq keep
    the sharing), yet a walk bounded only per level reads 500 items at each of them: 500**depth in
    the task's thread. Long strings add their characters (redaction reads ~1-2 µs each)."""
    from z4j_agent.redact import REDACTED, scrub

    bound = 65536  # redact.MAX_TOTAL
    read = {"items": 0}

    Counting = counting_list(read)

    row = Counting([0] * 500)
    shared = [[[row] * 500] * 500] * 500  # 125M items to a walk per level; a few KB in memory
    out = scrub({"rows": shared, "password": "hunter2"})
    assert out["password"] == REDACTED
    assert read["items"] <= bound
    assert len(json.dumps(out)) < 8 * bound
    assert "more items]" in json.dumps(out)  # cut as past max_items, the count of what is left out said

    text = "password=hunter2 " + "word=value " * 3000  # 33 KB
    out = scrub({"texts": [text] * 500, "n": 1})
    assert out["n"] == 1 and "hunter2" not in json.dumps(out)
    assert sum(len(t) for t in out["texts"]) < 2 * bound
    assert out["texts"][0].startswith("password=[redacted] word=value")
    assert out["texts"][-1] == f"…[{len(text)} more chars]"  # a string past the total: its length said, none of it read

    # Within the total, nothing changes.
    assert scrub([["a"] * 300] * 100) == [["a"] * 300] * 100


def test_a_payload_holding_a_deque_or_bytes_is_left_out_its_str_never_made():
    import collections

    from z4j_agent.batch import Omitted, raw_json_within

    class NoStr(collections.deque):
        def __str__(self):  # the encoder's str() of it is what must not be made
            raise AssertionError("str'd whole")

        __repr__ = __str__

    for value, kind in ((NoStr(range(1_000_000)), "<locals>.NoStr"), (b"x" * 1_000_000, "bytes"), (b"xy", "bytes")):
        omitted = raw_json_within({"args": [value]}, 512 * 1024)
        assert type(omitted) is Omitted and omitted.reason.endswith(f"{kind}, which JSON cannot carry exactly")


def test_a_payload_holding_a_list_or_dict_whose_iteration_never_ends_is_too_big_not_read_forever():
    """A list or dict subclass whose __iter__ (or values()) yields on and on: the size check reads
    it within the limit's work, as any other value, and calls it too big."""
    import itertools

    from z4j_agent.batch import TOO_BIG, raw_json_within

    def endless():
        for n in itertools.count():
            if n > 100_000:
                raise AssertionError("read on and on")
            yield n

    class EndlessList(list):
        def __iter__(self):
            return endless()

    class EndlessDict(dict):
        def __iter__(self):
            return map(str, endless())

        def values(self):
            return endless()

    for value in (EndlessList(range(20)), EndlessList(range(3)), EndlessDict(a=1), EndlessDict((str(n), n) for n in range(20))):
        assert raw_json_within({"args": [value]}, 1000) is TOO_BIG


def test_a_record_is_its_fields_under_its_type_name_a_secret_field_hidden_by_its_key():
    """A dataclass's repr was cut and read as text: `password=[…]` or `password=Secret(…)` was
    only half hidden (name=value patterns stop at a bracket or a quote). As its fields, the key
    hides the value whatever its shape, as in a dict; a repr=False field stays out of sight, as in
    its repr, and a property is never run."""
    import dataclasses

    from z4j_agent.redact import REDACTED, scrub

    @dataclasses.dataclass
    class Card:
        holder: str
        cvv: int

    @dataclasses.dataclass
    class Order:
        id: int
        password: list
        card: Card
        note: str = dataclasses.field(default="hidden from repr", repr=False)

        @property
        def total(self):
            raise AssertionError("a property was run")

    order = Order(7, ["hunter2x"], Card("Ada", 123))
    assert "hunter2x" in redact_text(repr(order))  # what the repr's text showed
    out = scrub({"order": order, "orders": [order]})
    assert out["order"] == {"__type__": "Order", "id": 7, "password": REDACTED, "card": {"__type__": "Card", "holder": "Ada", "cvv": REDACTED}}
    assert out["orders"] == [out["order"]]
    assert scrub(order, redact_keys=["holder"])["card"]["holder"] == REDACTED  # a policy's own names too
    assert scrub(order, keep_keys=["password"])["password"] == ["hunter2x"]
    json.dumps(out)


def test_records_of_pydantic_and_attrs_are_told_apart_by_their_types_attributes():
    """The agent imports none of these libraries: pydantic 2 by `model_fields` (and the extra
    fields of a model that allows them), pydantic 1 by `__fields__`, attrs by `__attrs_attrs__`.
    The real ones: test_taskiq.py, where taskiq brings pydantic and attrs."""
    from types import SimpleNamespace

    from z4j_agent.redact import REDACTED, scrub

    class V2Model:  # as pydantic 2 lays a model out
        model_fields = {"name": SimpleNamespace(repr=True), "api_key": SimpleNamespace(repr=True), "blob": SimpleNamespace(repr=False)}
        __pydantic_fields_set__ = None

        def __init__(self):
            self.name, self.api_key, self.blob, self.__pydantic_extra__ = "n", "k-123", "not shown", {"token": "t-123", "tag": "x"}

    class V1Model:  # pydantic 1
        __fields__ = {"name": SimpleNamespace(field_info=SimpleNamespace(repr=True)), "secret": SimpleNamespace(field_info=SimpleNamespace(repr=True))}
        __fields_set__ = None

        def __init__(self):
            self.name, self.secret = "n", "s-123"

    class AttrsClass:  # attrs: a field with a repr function of its own is left out (it may mask the value)
        __attrs_attrs__ = (SimpleNamespace(name="name", repr=True), SimpleNamespace(name="pin", repr=True),
                           SimpleNamespace(name="masked", repr=lambda v: "***"), SimpleNamespace(name="off", repr=False))

        def __init__(self):
            self.name, self.pin, self.masked, self.off = "n", 1234, "shown as ***", "not shown"

    assert scrub(V2Model()) == {"__type__": "V2Model", "name": "n", "api_key": REDACTED, "token": REDACTED, "tag": "x"}
    assert scrub(V1Model()) == {"__type__": "V1Model", "name": "n", "secret": REDACTED}
    assert scrub(AttrsClass()) == {"__type__": "AttrsClass", "name": "n", "pin": REDACTED}


def test_a_namedtuple_and_a_simple_namespace_are_records_too():
    """A namedtuple was walked as a tuple: its values without their names, so a `password` field
    was shown. A SimpleNamespace's repr (every attribute) was made whole before being cut."""
    import collections
    import types
    import typing

    from z4j_agent.redact import REDACTED, scrub

    Login = collections.namedtuple("Login", "user password")

    class Point(typing.NamedTuple):
        x: int
        token: str

    read = {"items": 0}

    Counting = counting_list(read)

    assert scrub([Login("ada", "hunter2x"), Point(1, "t-123"), ("a", "b")]) == [
        {"__type__": "Login", "user": "ada", "password": REDACTED}, {"__type__": "Point", "x": 1, "token": REDACTED}, ["a", "b"]]
    assert scrub(types.SimpleNamespace(rows=Counting(range(1_000_000)), api_key="k-123"), max_items=5) == {
        "__type__": "SimpleNamespace", "rows": [*range(5), "[999995 more items]"], "api_key": REDACTED}
    assert read["items"] == 5


def test_a_record_is_read_within_the_bounds_and_never_repr_d():
    """A record holding a million rows: its repr was made whole on the task's thread (~100 ms)
    before it was cut. Its fields are read as a dict's entries are: max_items each, the shared
    total, depth and cycles; a field whose read raises is lost alone."""
    import dataclasses

    from z4j_agent.redact import UNREDACTABLE, scrub

    read = {"items": 0}

    Counting = counting_list(read)

    @dataclasses.dataclass(repr=False, slots=True)
    class Batch:
        rows: list
        parent: object = None
        gone: int = 0

        def __repr__(self):  # what must not be made
            raise AssertionError("repr'd")

    big = Batch(Counting(range(1_000_000)))
    big.parent = big
    del big.gone  # a field whose read raises (a slot: no default on the class to fall back to)
    out = scrub(big, max_items=10)
    assert out == {"__type__": "Batch", "rows": [*range(10), "[999990 more items]"], "parent": "[cycle]", "gone": UNREDACTABLE}
    assert read["items"] == 10

    read["items"] = 0
    many = [Batch(Counting(range(500)))] * 500  # 250,000 items to a walk bounded only per level
    scrub(many)
    assert read["items"] <= 65536  # redact.MAX_TOTAL

    fields = {f"f{n}": n for n in range(20)}
    wide = dataclasses.make_dataclass("Wide", list(fields))(**fields)
    assert scrub(wide, max_items=3) == {"__type__": "Wide", "f0": 0, "f1": 1, "f2": 2, "[more keys]": 17}
    assert scrub([[[big]]], max_depth=3) == [[["[depth limit]"]]]


def test_other_objects_keep_their_repr_cut_a_plain_objects_state_is_not_read():
    from z4j_agent.redact import scrub

    class Client:  # no repr of its own: object's, which shows none of its state
        def __init__(self):
            self.session_key_material = "private state"

    class Money:
        def __repr__(self):
            return "Money('12.50', 'EUR')" + " " * 2000

    shown = scrub({"client": Client(), "price": Money(), "kind": Client})
    assert shown["client"].startswith("<") and "private state" not in shown["client"]
    assert shown["price"].startswith("Money('12.50', 'EUR')") and shown["price"].endswith("more chars]")
    assert shown["kind"].startswith("<class ")


def test_a_payload_holding_a_record_is_left_out_its_str_never_made():
    """A record's str() is made of its fields' reprs (a dataclass holding a million rows: ~100 ms
    on the task's thread), and no retry could pass the object again: the payload is left out at
    the record, whatever its size, its str() never made."""
    import dataclasses

    from z4j_agent.batch import Omitted, raw_json_within

    made = {"str": 0}

    @dataclasses.dataclass
    class Rows:
        rows: list
        parent: object = None

    class Counted(Rows):
        def __repr__(self):
            made["str"] += 1
            return Rows.__repr__(self)

    small = Rows([1, 2])
    small.parent = small  # within itself
    for value in (Counted(list(range(1_000_000))), [Counted(["x" * 1000])] * 600, small):
        omitted = raw_json_within({"args": [value]}, 512 * 1024)
        assert type(omitted) is Omitted and "JSON cannot carry exactly" in omitted.reason
    assert made["str"] == 0
