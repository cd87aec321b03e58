"""The recording hot path's shortcuts (tests/bench/agent-overhead.py) change nothing it produces:
the text gate agrees with the regex it stands in for, payloads are snapshots spliced into batches
as valid JSON, event ids stay unique (also across fork)."""

import json
import math
import os
import random
import string

from z4j_agent import batch, redact
from z4j_agent.redact import scrub

UNBOUNDED = 2**62  # scrub's max_total, for plain copies (bounded by plain_copy itself)
PIECES = [m.upper() for m in redact._MARKERS] + list(redact._MARKERS) + ["AIza", "Bearer", "ToKeN", "gh", "sk", "SG", "-----", "BEGIN",
                                                                          "hello", "uuid", " ", "-", "_", ".", "/", "x", "0"]


def test_the_ascii_gate_agrees_with_the_regex():
    rng = random.Random(7)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6))) for _ in range(20_000)]
    texts += ["".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    texts += ["3f1c6a0e-1b7e-4a5e-9d7a-2c4b8e0f9a11", "huey@host:123", "Ghp_", "gHs_x", "xOx", "-----begin"]
    for t in texts:
        assert redact._maybe_secret(t) == (redact._MAYBE_SECRET.search(t) is not None), t


def test_non_ascii_text_is_judged_by_the_regex():
    # IGNORECASE folds 'ſ' onto 's' and the Kelvin sign onto 'k': "ſk-" is a marker to the regex.
    for t in ["ſk-0123456789abcdefghij", "\u212akia", "plain ünïcode text here"]:
        assert redact._maybe_secret(t) == (redact._MAYBE_SECRET.search(t) is not None)


def test_scrub_fast_paths_change_nothing():
    value = {"password": "hunter2", "apiKey": "x", "n": 2**60, "s": "x" * 40000, "ok": "Bearer abcdefghijklmnop", "k" * 300: 1,
             "nested": [1, "two", {"token": ""}, (3, 4)], "keepme_token": "visible"}
    out = scrub(value, keep_keys=["keepme_token"])
    assert out["password"] == out["apiKey"] == redact.REDACTED
    assert out["n"] == str(2**60) and out["s"].startswith("x" * 32768) and "more chars" in out["s"]
    assert "abcdefghijklmnop" not in out["ok"]
    assert ("k" * 256 + "…[44 more chars]") in out
    assert out["nested"] == [1, "two", {"token": ""}, [3, 4]]
    assert out["keepme_token"] == "visible"
    assert redact.is_sensitive_key("API-Key") and redact.is_sensitive_key("API-Key")  # answered twice: from memory
    assert redact.is_sensitive_key("iban", ["IBAN"]) and not redact.is_sensitive_key("iban")


def test_payloads_are_snapshots_spliced_into_valid_batches():
    kwargs = {"note": "日本語", "rows": list(range(65))}  # not plain (65 items): encoded at record time
    from z4j_agent import core

    agent = core.Agent(core.load_config(project="p", agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:6379/14"))
    item = ("rq", "enqueued", "t1", {"name": "n"}, None, 1.0, batch.raw_json({"args": [1], "kwargs": kwargs}), core.policies.DEFAULT)
    env = agent.event_json(item)
    kwargs["note"] = "changed after sending"
    heartbeat = agent.event_json(batch.worker_envelope("p", "rq", "worker-heartbeat", "w", {}, None))
    (body, sig, _, _), = batch.signed_batches("a", "s", "p", [env, heartbeat], 1, 0)
    assert sig == batch.sign(body, "s")
    events = json.loads(body)["events"]
    assert events[0]["payload"]["kwargs"]["note"] == "日本語"
    assert events[0]["payload"]["kwargs"]["rows"] == list(range(65))
    assert events[0]["fields"] == {"name": "n"} and "payload" not in events[1]


def test_event_ids_are_unique_in_a_process_and_after_fork():
    ids = {batch.event_id() for _ in range(50_000)}
    assert len(ids) == 50_000 and all(len(i) == 32 for i in ids)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, batch.event_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 64).decode()
    assert child[12:24] != batch.event_id()[12:24]  # the child has its own random tag


def test_task_events_are_snapshots_redacted_by_the_sender(captured):
    from z4j_agent import core

    agent = core.get_agent()
    seen = []
    agent_enqueue = agent._enqueue
    agent._enqueue = seen.append  # hold the buffered items: what the sender will find later
    try:
        class Box:  # not plain: redacted in the task's thread, as its repr is then
            def __init__(self):
                self.v = "password=hunter2-before"

            def __repr__(self):
                return f"Box({self.v})"

        args, kwargs, box = [1, {"token": "abc", "n": [2]}], {"note": "Bearer abcdefghijklmnop", "box": None}, Box()
        payload = {"name": "t", "args": args, "kwargs": kwargs}
        agent.task_event("rq", "enqueued", "t1", fields={"name": "t", "args": args, "kwargs": kwargs, "result": box, "traceback": "x" * 40000}, payload=payload)
        args[1]["token"], args[1]["n"][0], kwargs["note"], box.v = "changed", 3, "changed", "changed"
    finally:
        agent._enqueue = agent_enqueue
    (item,) = seen
    assert isinstance(item, tuple)  # not an envelope yet: the sender builds it
    env = json.loads(agent.event_json(item))
    assert env["fields"]["args"] == [1, {"token": "[redacted]", "n": [2]}]
    assert env["fields"]["kwargs"]["note"] == "Bearer [redacted]"
    assert env["fields"]["result"] == "Box(password=[redacted])"
    assert len(env["fields"]["traceback"]) == 32768
    assert env["payload"] == {"name": "t", "args": [1, {"token": "abc", "n": [2]}], "kwargs": {"note": "Bearer abcdefghijklmnop", "box": None}}


def test_a_record_argument_is_shown_by_its_fields_its_retry_payload_left_out(captured):
    """A dataclass argument, in a task event: its fields redacted by their keys on the task's
    thread (a snapshot). Its retry payload is left out (JSON has no type for it: its str() was
    sent, and a retry called the task with that text), saying why; its str() is never made, so a
    big one costs no more."""
    import dataclasses

    from z4j_agent import core

    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    @dataclasses.dataclass
    class Export:
        rows: list

    agent = core.get_agent()
    login, export = Login("ada", "hunter2x"), Export(list(range(1_000_000)))
    sent = repr(login)
    for task_id, arg in (("r1", login), ("r2", export)):
        agent.task_event("huey", "enqueued", task_id, fields={"name": "t", "args": [arg]}, payload={"name": "t", "args": [arg], "kwargs": {}})
    login.user = "changed after the hook"
    one, big = captured.of("r1", "enqueued"), captured.of("r2", "enqueued")
    assert one["fields"]["args"] == [{"__type__": "Login", "user": "ada", "password": "[redacted]"}]
    assert "payload" not in one and "hunter2x" not in json.dumps(one) and sent not in json.dumps(one)
    assert one["fields"]["payloadOmitted"].endswith(".<locals>.Login, which JSON cannot carry exactly")
    assert big["fields"]["args"][0]["rows"][-1] == "[999500 more items]"
    assert "payload" not in big and big["fields"]["payloadOmitted"].endswith(".<locals>.Export, which JSON cannot carry exactly")


def test_an_argument_whose_repr_raises_costs_the_retry_payload_not_the_event(captured):
    """An object whose str() raises (a broken __repr__, a dataclass whose field was never set)
    once lost the whole enqueued event, when the payload carried str()s. It goes without a
    payload, as any object does; the fields show the object as redaction does."""
    from z4j_agent import core

    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    core.get_agent().task_event("huey", "enqueued", "b1", fields={"name": "t", "args": [Broken(), 1]}, payload={"name": "t", "args": [Broken(), 1], "kwargs": {}})
    event = captured.of("b1", "enqueued")
    assert event["fields"]["args"] == ["<Broken>", 1] and "payload" not in event
    assert event["fields"]["payloadOmitted"].endswith("<locals>.Broken, which JSON cannot carry exactly")


def test_plain_copies_stop_at_what_is_not_plain():
    from z4j_agent.snapshot import NOT_PLAIN, plain_copy

    assert plain_copy((1, "a", None, 2.5, True, [{"k": ()}])) == [1, "a", None, 2.5, True, [{"k": []}]]
    for v in ({1: "int key"}, [object()], list(range(65)), [[[[[1]]]]], {"d": b"bytes"}):
        assert plain_copy(v) is NOT_PLAIN
    assert plain_copy("x" * 32769, max_string=None) == "x" * 32769
    assert plain_copy("x" * 40000, max_string=33000) is NOT_PLAIN  # a payload's: exact or nothing


def test_plain_copies_are_bounded_in_total():
    """64 items at each of 4 levels alone let a copy hold 64**4 items: containers that share their
    items are a few KB to the task (and to RQ's, Huey's and arq's pickle), and their copy took the
    task's thread seconds and stayed in the buffer (144 MiB per event). Past the bound the value is
    not plain: redacted now, by scrub, bounded in its turn."""
    import time

    from z4j_agent import core
    from z4j_agent.snapshot import NOT_PLAIN, Scrubbed, plain_copy

    row = [0] * 64
    shared = [[[row] * 64] * 64] * 64
    assert plain_copy(shared) is NOT_PLAIN
    assert plain_copy((shared,), max_string=batch.MAX_PAYLOAD_CHARS, depth=1) is NOT_PLAIN
    rows = [{f"k{i}": i for i in range(64)} for _ in range(64)]  # 64 rows of 64 columns: still plain
    assert plain_copy((rows,)) == [rows]

    agent = core.Agent(core.load_config(project="p", agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:6379/14"))
    seen = []
    agent._enqueue = agent._enqueue_weighed = seen.append
    t0 = time.perf_counter()
    agent.task_event("huey", "succeeded", "t1", fields={"name": "n", "result": shared})
    assert time.perf_counter() - t0 < 0.5
    (item,) = seen
    assert type(item[3]["result"]) is Scrubbed


def test_long_strings_are_cut_by_the_tasks_thread_and_redacted_by_the_sender(captured, monkeypatch):
    """A string over scrub's cut (a task's result of 75 KB of JSON text, an argument) costs the
    task's thread a slice, not its redaction (~1-2 µs per character it reads: some 50 ms), and
    what the sender makes of it is what scrub makes of the whole string."""
    import threading

    from z4j_agent import core
    from z4j_agent.redact import REDACTED

    agent = core.get_agent()
    text = ("password=hunter2 " + "word=value " * 6000) + " token=abc"
    nested = {"doc": text, "n": [1, text]}
    redacting = []
    real = redact._redact
    monkeypatch.setattr(redact, "_redact", lambda s: (redacting.append(threading.current_thread()), real(s))[1])
    seen = []
    agent_enqueue = agent._enqueue
    agent._enqueue = seen.append
    try:
        agent.task_event("huey", "succeeded", "t-long", fields={"name": "t", "result": text, "kwargs": nested})
        agent.task_event("rq", "started", "t-long-2", fields={"name": "t", "args": [text]}, payload={"name": "t", "args": [text], "kwargs": {}})
    finally:
        agent._enqueue = agent_enqueue
    assert redacting == []  # nothing redacted in the task's thread
    first, second = (json.loads(agent.event_json(item)) for item in seen)
    assert first["fields"]["result"] == scrub(text) and first["fields"]["result"].startswith(f"password={REDACTED} word=value")
    assert first["fields"]["result"].endswith(f"…[{len(text) - 32768} more chars]")
    assert first["fields"]["kwargs"] == scrub(nested, max_total=UNBOUNDED)
    assert second["fields"]["args"] == scrub([text]) and second["payload"]["args"] == [text]
    for policy_keys in (("word",),):  # a policy's own names are hidden in it as in a whole string
        item = seen[0][:7] + (core.policies.TaskPolicy(redact=policy_keys),)
        assert json.loads(agent.event_json(item))["fields"]["result"] == scrub(text, redact_keys=policy_keys)


def test_an_event_the_sender_cannot_build_is_dropped_not_retried_forever():
    from z4j_agent import core

    class BadId:
        def __str__(self):
            raise RuntimeError("no str")

    agent = core.Agent(core.load_config(project="p", agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:6379/14"))
    good = ("rq", "started", "t1", {"name": "n"}, None, 1.0, None, core.policies.DEFAULT)
    bad = ("rq", "started", BadId(), {"name": "n"}, None, 1.0, None, core.policies.DEFAULT)
    out = agent._envelopes([bad, good])
    assert [json.loads(e)["taskId"] for e in out] == ["t1"] and agent.stats()["dropped"] == 1 and agent.stats()["errors"] == 1


def _random_plain(rng, depth=0):
    """A value snapshot.plain_copy keeps: JSON scalars (secrets, odd floats, big ints among
    them), strings, lists and str-keyed dicts of them."""
    from z4j_agent.snapshot import NOT_PLAIN, plain_copy

    keys = ["password", "apiKey", "API_KEY", "token", "keepme_token", "iban", "name", "note", "k" * 300, "pin", "x-auth", "data"]
    texts = ["", "bench", "Bearer abcdefghijklmnop", "postgres://u:hunter2@db/x", "password=hunter2", "AKIAABCDEFGHIJKLMNOP",
             "3f1c6a0e-1b7e-4a5e-9d7a-2c4b8e0f9a11", "x" * 40000, "ünïcode ſk-0123456789abcdefghij"]
    atoms = [None, True, False, 0, 42, -7, 2**60, -(2**53), 1.5, float("nan"), float("inf"), float("-inf")] + texts
    if depth >= 3 or rng.random() < 0.4:
        return rng.choice(atoms)
    if rng.random() < 0.5:
        value = [_random_plain(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    else:
        value = {rng.choice(keys): _random_plain(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    copy = plain_copy(value, max_string=None)
    return copy if copy is not NOT_PLAIN else None


def test_scrub_plain_agrees_with_scrub_on_plain_copies():
    from z4j_agent.redact import keep_set, scrub_plain

    rng = random.Random(11)
    for n in range(3000):
        value = _random_plain(rng)
        extra = ("iban",) if n % 3 == 0 else ()
        keep = ["keepme_token"] if n % 2 == 0 else []
        # Without scrub's total bound: a plain copy is bounded by plain_copy itself.
        got, want = scrub_plain(value, extra, keep_set(keep)), scrub(value, redact_keys=extra, keep_keys=keep, max_total=UNBOUNDED)
        assert json.dumps(got) == json.dumps(want), value
    assert scrub_plain(b"not plain") == "<9 bytes>"  # anything else: the generic walk


def test_hex_ids_cannot_hold_a_marker():
    # redact_text passes UUIDs and 32-digit hex ids through without its memory or markers.
    assert all(set(m) - set("0123456789abcdef-") for m in redact._MARKERS)
    rng = random.Random(5)
    for _ in range(5000):
        s = "".join(rng.choice("0123456789abcdefABCDEF-") for _ in range(rng.choice((32, 36))))
        assert redact._MAYBE_SECRET.search(s) is None and redact.redact_text(s) == s


def test_fields_json_agrees_with_scrub_and_json():
    """The sender's one-pass fields JSON (event_json.fields_json) says what json.dumps of the
    scrubbed fields said: payload fields (args, kwargs, result) scrubbed with the policy's keys,
    strings redacted, other numbers as they are (NaN and ±Infinity null), free text cut, None left out."""
    from z4j_agent.event_json import fields_json
    from z4j_agent.redact import keep_set

    rng = random.Random(13)
    names = ["args", "kwargs", "result", "name", "queue", "runtime", "retries", "exception", "rootId", "x-auth"]
    texts = ["noop", "default", "3f1c6a0e-1b7e-4a5e-9d7a-2c4b8e0f9a11", "0123456789abcdef0123456789abcdef", "password=hunter2 " * 20,
             "Bearer abcdefghijklmnop", "e" * 300, "t" * 40000, "ünïcode"]
    for n in range(1000):
        snap = {}
        for k in rng.sample(names, rng.randint(0, len(names))):
            v = _random_plain(rng) if k in ("args", "kwargs", "result") else rng.choice(texts + [0, 7, 2**60, 0.25, 1e-7, float("inf"), True, False])
            snap[k] = v
        extra = ("iban",) if n % 3 == 0 else ()
        keep = ["keepme_token"] if n % 2 == 0 else []
        want = {}
        for k, v in snap.items():
            if v is None:  # a field set to None is left out
                continue
            if k == "exception" and isinstance(v, str):  # free text: cut, without scrub's marker
                want[k] = redact.redact_text(v[:32768])
            elif k in ("args", "kwargs", "result") or isinstance(v, str):
                want[k] = scrub(v, redact_keys=extra, keep_keys=keep, max_total=UNBOUNDED)
            elif isinstance(v, float) and not math.isfinite(v):  # not JSON: null, as scrub makes it
                want[k] = None
            else:
                want[k] = v
        assert _strict_json(fields_json(snap, extra, keep_set(keep))) == json.loads(json.dumps(want)), snap


def test_a_payload_that_is_not_plain_is_json_at_once_and_its_fields_redacted(captured):
    from z4j_agent import core

    args, kwargs = [1, [2]], {"ids": list(range(65)), "password": "hunter2"}  # 65 items: not plain
    core.get_agent().task_event("rq", "enqueued", "t2", fields={"name": "t", "args": args, "kwargs": kwargs, "eta": None},
                                payload={"name": "t", "args": args, "kwargs": kwargs})
    args[1][0] = "changed"
    (env,) = captured.tasks("t2")
    assert env["payload"] == {"name": "t", "args": [1, [2]], "kwargs": {"ids": list(range(65)), "password": "hunter2"}}
    assert env["fields"] == {"name": "t", "args": [1, [2]], "kwargs": {"ids": list(range(65)), "password": "[redacted]"}}


def test_args_encoded_once_for_fields_and_payload_only_when_redaction_left_them_as_they_were():
    from z4j_agent import core

    agent = core.Agent(core.load_config(project="p", agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:6379/14"))
    seen = []
    agent._enqueue = seen.append
    cases = [([1, "two", 2.5, None, True], {"name": "bench", "n": [1, {"k": "v"}]}),  # nothing to hide: one encoding for both
             ([2**60, 1.5], {"token": "abc", "big": 2**60}),  # redaction changes both: the payload keeps them exact
             ([1.0], {"flag": True})]  # 1.0 and True stay what they are (equal to 1, not the same JSON)
    for args, kwargs in cases:
        seen.clear()
        payload = {"name": "t", "args": args, "kwargs": kwargs, "queue": "q", "options": {}}
        agent.task_event("rq", "enqueued", "t1", fields={"name": "t", "args": args, "kwargs": kwargs}, payload=payload)
        (item,) = seen
        text = agent.event_json(item)
        env = json.loads(text)
        assert env["fields"]["args"] == scrub(args) and env["fields"]["kwargs"] == scrub(kwargs)
        assert json.dumps(env["payload"]) == json.dumps(json.loads(batch.encode_value(payload)))
    assert '"args":[1.0]' in text and '"flag":true' in text


def _strict_json(text):
    """Parses as the service does (JSON.parse): NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_nan_and_infinity_never_reach_the_wire_and_never_spoil_a_batch():
    from z4j_agent import core

    agent = core.Agent(core.load_config(project="p", agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:6379/14"))
    seen = []
    agent._enqueue = seen.append

    class Odd:  # not plain: its payload is JSON made at record time
        def __str__(self):
            return "odd"

    nan, inf = float("nan"), float("inf")
    calls = [
        ({"args": [nan, 1], "kwargs": {"x": -inf}}, {"args": [nan, 1], "kwargs": {"x": -inf}}),  # plain payload
        ({"args": [Odd(), inf]}, {"args": [Odd(), inf]}),  # payload not plain
        ({"runtime": inf, "args": [1]}, {"args": [1]}),  # a float field of the agent's own
    ]
    for fields, payload in calls:
        agent.task_event("rq", "enqueued", "t-nan", fields={"name": "t", **fields}, payload={"name": "t", **payload})
    texts = [agent.event_json(item) for item in seen]
    events = [_strict_json(t) for t in texts]
    assert events[0]["fields"]["args"] == [None, 1] and events[0]["fields"]["kwargs"] == {"x": None}
    assert "payload" not in events[0] and "payload" not in events[1]  # JSON cannot carry them exactly: no retry payload
    assert events[2]["fields"]["runtime"] is None and events[2]["payload"] == {"name": "t", "args": [1]}
    # And the batch they travel in is JSON the service accepts.
    ((body, _sig, _, _),) = batch.signed_batches("a", "s", "p", texts, seq=1, dropped=0)
    assert len(_strict_json(body.decode())["events"]) == 3
