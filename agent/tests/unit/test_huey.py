"""z4j_agent.huey with Huey's in-memory storage in immediate mode (tasks run on enqueue)."""
import functools

import pytest

huey_pkg = pytest.importorskip("huey")
from huey import MemoryHuey  # noqa: E402
from huey.exceptions import CancelExecution  # noqa: E402

import z4j_agent.huey as zhuey  # noqa: E402
from conftest import REDIS_URL  # noqa: E402

SECRET = "hunter2-secret"


@pytest.fixture
def app(captured):
    h = MemoryHuey("unit", immediate=True)
    zhuey.install(h)
    zhuey.install(h)  # idempotent
    runs = {}

    @h.task()
    def add(x, y, password=None):
        return x + y

    @h.task()
    def fail(message):
        raise ValueError(message)

    @h.task(retries=2)
    def flaky(key):
        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            raise RuntimeError(f"first attempt of {key}")
        return "ok"

    @h.task()
    def spawn():
        return add(1, 2).id

    @h.task()
    def retry_once(key):
        """Asks Huey for one more run (RetryTask), which leaves the task's retries as they were."""
        from huey.exceptions import RetryTask

        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            raise RetryTask()
        return "ok"

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no str for you")

    @h.task()
    def fail_unprintably():
        raise Unprintable()

    h.tasks_ = {"add": add, "fail": fail, "fail_unprintably": fail_unprintably, "flaky": flaky, "spawn": spawn, "retry_once": retry_once}
    return h


def test_success(app, captured):
    r = app.tasks_["add"](2, 3, password=SECRET)
    assert captured.kinds(r.id) == ["enqueued", "started", "succeeded"]
    enq = captured.of(r.id, "enqueued")
    assert enq["payload"]["args"] == [2, 3] and enq["payload"]["kwargs"] == {"password": SECRET} and enq["payload"]["queue"] == "unit"
    assert enq["payload"]["name"].endswith(".add") and enq["fields"]["kwargs"] == {"password": "[redacted]"}
    done = captured.of(r.id, "succeeded")["fields"]
    assert done["result"] == 5 and done["runtime"] >= 0 and done["queue"] == "unit"
    assert captured.of(r.id, "started")["worker"].startswith("huey@")


def test_failure(app, captured):
    r = app.tasks_["fail"]("boom")
    f = captured.of(r.id, "failed")["fields"]
    assert f["exception"] == "ValueError: boom" and "Traceback" in f["traceback"]


def test_an_exception_whose_str_raises_is_still_recorded(app, captured):
    r = app.tasks_["fail_unprintably"]()
    f = captured.of(r.id, "failed")["fields"]
    assert f["exception"] == "Unprintable: <str() failed>" and "Traceback" in f["traceback"]


def test_retry_then_success(app, captured):
    r = app.tasks_["flaky"]("k")
    evs = [(e["kind"], e["fields"]["retries"]) for e in captured if e.get("taskId") == r.id]  # as recorded (same ms)
    assert evs == [("enqueued", 0), ("started", 0), ("retried", 0), ("enqueued", 1), ("started", 1), ("succeeded", 1)]
    assert sum(1 for e in captured.tasks(r.id) if "payload" in e) == 1


def test_a_retry_task_run_is_the_next_attempt(app, captured):
    r = app.tasks_["retry_once"]("k-retry-task")
    evs = [(e["kind"], e["fields"]["retries"]) for e in captured if e.get("taskId") == r.id]
    assert evs == [("enqueued", 0), ("started", 0), ("retried", 0), ("enqueued", 1), ("started", 1), ("succeeded", 1)]


def test_a_call_with_fewer_retries_than_its_default_keeps_its_payload_and_counts_its_attempts(app, captured):
    """flaky's default is 2 retries; a call that allows 1 is still its first attempt's enqueue."""
    r = app.enqueue(app.tasks_["flaky"].s("k-per-call", retries=1))
    tid = r.id
    assert sum(1 for e in captured.tasks(tid) if "payload" in e) == 1
    kinds = [(e["kind"], e["fields"]["retries"]) for e in captured if e.get("taskId") == tid]
    assert kinds[-4:] == [("retried", 1), ("enqueued", 2), ("started", 2), ("succeeded", 2)]


def test_pipeline_links(app, captured):
    add = app.tasks_["add"]
    pipe = add.s(1, 1).then(add, 10).then(add, 100)
    head = pipe
    ids = []
    while head is not None:
        ids.append(head.id)
        head = head.on_complete
    app.enqueue(pipe)
    for i, tid in enumerate(ids):
        f = captured.of(tid, "succeeded")["fields"]
        assert f["rootId"] == ids[0]
        assert f.get("parentId") == (ids[i - 1] if i else None)
    assert captured.of(ids[2], "succeeded")["fields"]["result"] == 112


def test_a_step_handed_over_mid_pipeline_is_sent_with_its_parent_and_no_guessed_root(app, captured):
    """A consumer process that runs a pipeline's middle step did not see the pipeline begin (another
    process ran the step before): it cannot know the first task, and names none (the service takes
    the parent's root). Guessing the step itself, as before, made a wrong root the service kept."""
    add = app.tasks_["add"]
    pipe = add.s(1, 1).then(add, 10).then(add, 100)
    middle, last = pipe.on_complete, pipe.on_complete.on_complete
    middle.extend_data(2)  # the first step's result, as Huey passes it on
    app.execute(middle)  # as a consumer runs a message it dequeued: no enqueue seen here
    for kind in ("started", "succeeded"):
        assert "rootId" not in captured.of(middle.id, kind)["fields"]
    sent = captured.of(last.id, "enqueued")["fields"]
    assert sent["parentId"] == middle.id and "rootId" not in sent


def test_a_task_sent_by_a_task_is_its_child(app, captured):
    r = app.tasks_["spawn"]()
    child = captured.of(r.id, "succeeded")["fields"]["result"]
    assert captured.of(child, "enqueued")["fields"]["parentId"] == r.id


@pytest.mark.skipif(not hasattr(MemoryHuey, "rate_limit"), reason="Huey has rate limits from 3.0 (the floor run's Huey is older)")
def test_the_failed_count_leaves_out_the_retries_a_task_asked_for(app, captured):
    """agent/README.md, "Workers": an exception counts, retried or not; a RetryTask, and a rate
    limit that retries (Huey adds a retry for both), are retries the task asked for. A rate limit
    without retry fails the task: it counts."""
    @app.task()
    @app.rate_limit("z4j-unit-never", limit=0, per=3600)  # every call is over the limit
    def limited():
        return "ran"

    @app.task()
    @app.rate_limit("z4j-unit-never-retried", limit=0, per=3600, retry=False)
    def limited_for_good():
        return "ran"

    app.tasks_["add"](1, 2)  # a run, no failure
    retried_itself = app.tasks_["retry_once"]("k-count-retry-task")  # RetryTask, then success: two runs, no failure
    app.tasks_["flaky"]("k-count-flaky")  # an exception retried, then success: two runs, one failure
    app.tasks_["fail"]("boom")  # one run, one failure
    rate_limited = limited()  # retried later (Huey schedules it: immediate mode leaves it there)
    over_for_good = limited_for_good()  # failed
    recorded = lambda r: [e["kind"] for e in captured if e.get("taskId") == r.id]  # noqa: E731  (in their order: same ms)
    assert recorded(retried_itself)[:3] == recorded(rate_limited)[:3] == ["enqueued", "started", "retried"]
    assert recorded(over_for_good) == ["enqueued", "started", "failed"]
    stats = app._post_execute["z4j_agent"].__self__.flight.stats(None)
    assert (stats["processed"], stats["failed"]) == (8, 3)


def test_revoked_and_cancelled(app, captured):
    add = app.tasks_["add"]

    @app.pre_execute()
    def cancel_all(task):
        raise CancelExecution()

    try:
        r = add(1, 1)
    finally:
        app.unregister_pre_execute(cancel_all)
    assert captured.kinds(r.id)[-1] == "revoked"


def _wrapper(fn):
    """A decorator as most are written (functools.wraps): its frame runs the code it wraps."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


class _DecoratorObject:
    """A decorator written as a class (a descriptor, like a method): no frame of the task's
    class attribute runs, the task's `execute` has no `__code__` of its own."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj, cls=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


@pytest.mark.parametrize("wrap", [None, _wrapper, _DecoratorObject], ids=["plain", "functools.wraps", "decorator object"])
def test_a_cancel_that_huey_retries_is_a_retry(app, captured, wrap):
    """CancelExecution(retry=True) from the task, its `execute` as it is or wrapped (instrumentation
    does this): Huey requeues it (its retries at least 1), and the run after it is the next
    attempt, not a task left revoked."""
    runs = {"n": 0}

    @app.task()
    def cancel_once():
        runs["n"] += 1
        if runs["n"] == 1:
            raise CancelExecution(retry=True)
        return "ok"

    if wrap:
        cancel_once.task_class.execute = wrap(cancel_once.task_class.execute)
    r = cancel_once()
    evs = [(e["kind"], e["fields"]["retries"]) for e in captured if e.get("taskId") == r.id]
    assert evs == [("enqueued", 0), ("started", 0), ("retried", 0), ("enqueued", 1), ("started", 1), ("succeeded", 1)]
    assert captured.of(r.id, "retried")["fields"]["exception"] == "CancelExecution"
    assert runs["n"] == 2


@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "hook and task wrapped alike"])
def test_a_cancel_from_a_pre_execute_hook_is_revoked_even_with_retries_left(app, captured, wrapped):
    """Huey never requeues a task a pre-execute hook cancelled, whatever its retries; also when
    the hook and the task's `execute` are wrapped by the same decorator (they run the same
    wrapper code): the hook's cancel is still told from the task's."""
    flaky = app.tasks_["flaky"]  # retries=2
    if wrapped:
        flaky.task_class.execute = _wrapper(flaky.task_class.execute)

    def cancel_all(task):
        raise CancelExecution(retry=True)

    hook = app.pre_execute()(_wrapper(cancel_all) if wrapped else cancel_all)
    try:
        r = flaky(f"k-pre-cancel-{wrapped}")
    finally:
        app.unregister_pre_execute(hook)
    assert captured.kinds(r.id) == ["enqueued", "started", "revoked"]
    assert app._post_execute["z4j_agent"].__self__.flight.stats(None)["active"] == 0


def test_policies_apply_to_every_event_of_a_task(app, captured):
    """started and a None result's succeeded skip the snapshot (Agent.own_event): a skip policy
    still drops them, a sampled-out task loses all its events, and a kept one keeps all three."""
    from z4j_agent.policy import task_policy

    @app.task()
    def quiet():
        return None

    @app.task()
    def half(i):
        return None

    name_of = app._registry.task_to_string
    task_policy(name_of(quiet.task_class), skip=True)
    task_policy(name_of(half.task_class), sample=0.5)
    r = quiet()
    assert captured.kinds(r.id) == []
    ids = [half(i).id for i in range(100)]
    kept = [t for t in ids if captured.kinds(t)]
    assert 20 < len(kept) < 80
    for t in kept:
        assert captured.kinds(t) == ["enqueued", "started", "succeeded"]
    done = captured.of(kept[0], "succeeded")["fields"]
    assert "result" not in done and done["runtime"] >= 0 and done["queue"] == "unit" and done["retries"] == 0


def test_a_task_sent_after_another_ran_in_the_same_thread_is_not_its_child(app, captured):
    """Immediate mode runs each task inline, in the caller's thread: once it returns, what the
    caller sends next is not that task's child (nor is a task sent by a parent after an inline
    child ran the child's)."""
    add = app.tasks_["add"]
    first, second = add(1, 1), add(2, 2)
    assert "parentId" not in captured.of(second.id, "enqueued")["fields"]
    assert "parentId" not in captured.of(first.id, "succeeded")["fields"]

    @app.task()
    def two_children():
        return [add(1, 2).id, add(3, 4).id]

    r = two_children()
    children = captured.of(r.id, "succeeded")["fields"]["result"]
    assert [captured.of(c, "enqueued")["fields"].get("parentId") for c in children] == [r.id, r.id]


@pytest.mark.skipif(not hasattr(huey_pkg, "chord"), reason="Huey has chords from 3.0 (the floor run's Huey is older)")
def test_chord_members_and_callback_are_linked(app, captured):
    add = app.tasks_["add"]

    @app.task()
    def total(results):
        return sum(results)

    members = [add.s(i, i) for i in range(3)]
    callback = total.s()
    app.enqueue(huey_pkg.chord(members, callback))
    group_ids = {captured.of(m.id, "enqueued")["fields"].get("groupId") for m in members}
    assert len(group_ids) == 1 and None not in group_ids
    assert captured.of(callback.id, "succeeded")["fields"]["result"] == 6
    assert captured.of(callback.id, "enqueued")["fields"]["parentId"] in {m.id for m in members}


def test_an_error_handler_is_the_failed_tasks_child(app, captured):
    fail = app.tasks_["fail"]

    @app.task()
    def handle(message, exc):
        return "handled"

    sig = fail.s("boom").error(handle.s())
    app.enqueue(sig)
    assert captured.of(sig.on_error.id, "enqueued")["fields"]["parentId"] == sig.id


def test_the_queue_is_the_name_the_redis_storage_keys_use(captured, redis_client):
    """RedisStorage drops every character outside [A-Za-z0-9_] from the name in its keys: the
    reported queue is that name, the one the service purges, counts and revokes under."""
    from huey import RedisHuey

    h = RedisHuey("z4j-unit.clean", url=REDIS_URL)
    zhuey.install(h)
    redis_client.delete("huey.redis.z4junitclean")
    try:

        @h.task()
        def noop():
            return None

        r = noop()
        assert redis_client.llen("huey.redis.z4junitclean") == 1
        assert captured.of(r.id, "enqueued")["fields"]["queue"] == "z4junitclean"
        assert captured.of(r.id, "enqueued")["payload"]["queue"] == "z4junitclean"
    finally:
        redis_client.delete("huey.redis.z4junitclean")



def test_a_scheduled_task_is_enqueued_with_its_eta(app, captured):
    r = app.tasks_["add"].schedule(args=(1, 2), delay=3600)
    enq = captured.tasks(r.id)[0]
    assert enq["kind"] == "enqueued" and enq["fields"]["eta"] and "payload" in enq


def test_a_scheduled_tasks_three_enqueues_each_say_what_they_are(captured):
    """Its producer's, a worker's that found it early (into the schedule), the scheduler's when
    its eta came: not three identical lines in the timeline."""
    import time

    h = MemoryHuey("eta-notes", immediate=False)
    zhuey.install(h)

    @h.task()
    def later():
        return 1

    r = later.schedule(delay=1)
    h.execute(h.dequeue())  # too early: Huey puts it in its schedule
    time.sleep(1.1)
    for task in h.read_schedule():  # what the consumer's scheduler does once the eta came
        h.enqueue(task)
    enqueues = [e for e in captured.tasks(r.id) if e["kind"] == "enqueued"]
    assert [e["fields"].get("reason") for e in enqueues] == [None, "held in the consumer's schedule until its eta", "its eta came: moved onto its queue"]
    assert len({e["fields"]["eta"] for e in enqueues}) == 1


def test_an_expiry_given_as_a_datetime_is_not_kept_and_the_payload_is(app, captured):
    """JSON cannot carry a datetime exactly, and a payload holding one is left out whole; the
    expiry is a moment of the first run, and retry() sends numbers only."""
    import datetime

    r = app.enqueue(app.tasks_["add"].s(1, 2, expires=datetime.datetime.now() + datetime.timedelta(hours=1)))
    enq = captured.of(r.id, "enqueued")
    assert enq["payload"]["args"] == [1, 2] and "expires" not in enq["payload"]["options"]
    r = app.enqueue(app.tasks_["add"].s(1, 2, expires=60))
    assert captured.of(r.id, "enqueued")["payload"]["options"]["expires"] == 60


def test_a_huey_without_task_timeout_still_reports_failures():
    """Huey 2.5–2.6 (supported) has no TaskTimeout: the agent's other exception classes must not
    fall back to catch-alls with it, or every failure reads as a CancelExecution and is lost.
    Run in a process of its own, where the missing class is taken out before the agent imports."""
    import subprocess
    import sys

    script = (
        "import huey.exceptions as hx\n"
        "vars(hx).pop('TaskTimeout', None)  # Huey 2.5–2.6 have none\n"
        "import json\n"
        "from huey import MemoryHuey\n"
        "from z4j_agent import core\n"
        "import z4j_agent.huey as zhuey\n"
        "agent = core.get_agent(project='p', agent_id='a', agent_secret='s', broker_url='redis://127.0.0.1:1/0')\n"
        "kinds = []\n"
        "agent._enqueue = agent._enqueue_weighed = lambda item: kinds.append(item[1])\n"
        "h = MemoryHuey('old', immediate=True)\n"
        "zhuey.install(h)\n"
        "@h.task()\n"
        "def fail():\n"
        "    raise ValueError('boom')\n"
        "fail()\n"
        "print(json.dumps(kinds))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == '["enqueued", "started", "failed"]', done.stdout


def test_a_call_json_would_change_has_no_payload_huey_pickles_it(app, captured):
    """Huey pickles the call: the task receives (1, 2) where a retry from z4j would give [1, 2]."""
    r = app.tasks_["add"]((1, 2), (3,))
    enq = captured.of(r.id, "enqueued")
    assert "payload" not in enq and enq["fields"]["payloadOmitted"] == "its arguments hold a tuple, which JSON would turn into a list"
    assert enq["fields"]["args"] == [[1, 2], [3]]  # still shown
    plain = app.tasks_["add"]([1, 2], [3])
    assert captured.of(plain.id, "enqueued")["payload"]["args"] == [[1, 2], [3]]


@pytest.mark.parametrize("storage", ["sqlite", "file"])
def test_a_huey_on_storage_other_than_redis_is_captured(captured, tmp_path, storage):
    """SqliteHuey's storage has a `conn` too, a sqlite3 connection, which install() took for a Redis
    client: it raised into the host's import. A Huey without Redis is captured like any other; its
    agent sends where Z4J_BROKER_URL or Z4J_HTTP_URL says."""
    from huey import FileHuey, SqliteHuey

    h = SqliteHuey("unit-sqlite", filename=str(tmp_path / "huey.db")) if storage == "sqlite" else FileHuey("unit-file", path=str(tmp_path / "huey"))
    zhuey.install(h)
    h.immediate = True  # after install(), which must see the real storage: immediate mode swaps in Huey's memory storage

    @h.task()
    def mul(x, y):
        return x * y

    r = mul(6, 7)
    assert r() == 42
    assert captured.kinds(r.id) == ["enqueued", "started", "succeeded"]
    assert captured.of(r.id, "succeeded")["fields"]["result"] == 42


GREENLET_CONSUMER = r"""
from gevent import monkey; monkey.patch_all()  # as a consumer of greenlet workers must start
import gc, json, time
from huey import MemoryHuey
from z4j_agent import core
import z4j_agent.huey as zhuey

core.get_agent(agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:1/0")  # nothing is delivered here
huey = MemoryHuey("greenlets", utc=True)
zhuey.install(huey)
hooks = next(o for o in gc.get_objects() if isinstance(o, zhuey._HueyAgent))
ended = []

@huey.task()
def spin():
    try:
        while True:
            time.sleep(0.01)  # gevent's: the greenlet waits here
    except zhuey.Terminated:
        ended.append("terminated")
        raise

consumer = huey.create_consumer(workers=2, worker_type="greenlet", periodic=False)
consumer.start()
result = spin()
deadline = time.time() + 5
while result.id not in hooks.running._where and time.time() < deadline:
    time.sleep(0.01)
outcome = hooks.terminate({"taskId": result.id})
consumer.stop(graceful=True)
print(json.dumps({"outcome": outcome, "ended": ended}))
"""


def test_terminate_stops_a_task_of_a_greenlet_worker():
    """A greenlet worker's task was started "unstoppable" (no thread to raise in). The
    exception is now raised in its greenlet where it waits, as gevent's Timeout does."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", GREENLET_CONSUMER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"outcome": {"stopped": True, "how": "exception raised in its greenlet"}, "ended": ["terminated"]}


PROCESS_CONSUMER_STOPPED = """
import os, signal, threading, time
from huey import MemoryHuey
from huey.consumer import Worker
from z4j_agent import core
import z4j_agent.huey as zhuey

# Nothing can be delivered: the goodbye waits its whole exit deadline, as one to a slow broker does.
core.get_agent(agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:1/0")
looping = os.environ["Z4J_TEST_LOOPING"]  # a file the worker makes once it loops
loop, said = Worker.loop, zhuey.say_offline

def loop_and_tell(self, *args, **kwargs):
    # In the worker's loop, where Huey catches the stop's KeyboardInterrupt and runs its shutdown
    # hooks (one in its startup hooks would end the worker before them). A file, not a lock a
    # KeyboardInterrupt could leave held.
    if not os.path.exists(looping):
        open(looping, "w").close()
    return loop(self, *args, **kwargs)

def say_offline(*args, **kwargs):
    said(*args, **kwargs)
    print("goodbye said", flush=True)

Worker.loop, zhuey.say_offline = loop_and_tell, say_offline
huey = MemoryHuey("processes")
zhuey.install(huey)

def stop_like_systemd():
    deadline = time.monotonic() + 30
    while not os.path.exists(looping) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(0, signal.SIGTERM)  # the consumer and its worker, as systemd and the test workers' stop do

threading.Thread(target=stop_like_systemd, daemon=True).start()
huey.create_consumer(workers=1, worker_type="process", periodic=False).run()
"""


def test_a_process_workers_goodbye_outlasts_the_consumer_that_ends_first(tmp_path):
    """SIGTERM to a consumer of process workers: the consumer exits at once, and multiprocessing
    terminates its daemonic workers as it exits, a second SIGTERM (a KeyboardInterrupt in a Huey
    worker). It fell in the worker's goodbye, which was cut short: the worker stayed online."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "Z4J_EXIT_FLUSH_TIMEOUT": "1", "Z4J_TEST_LOOPING": str(tmp_path / "looping")}
    done = subprocess.run([sys.executable, "-c", PROCESS_CONSUMER_STOPPED], capture_output=True, text=True, timeout=60, env=env, start_new_session=True)
    assert "goodbye said" in done.stdout, done.stderr[-2000:]
    assert "KeyboardInterrupt" not in done.stderr, done.stderr[-2000:]


def test_a_redis_huey_on_sentinel_lends_the_agent_its_sentinels_and_master(sentinel_group):
    from huey import RedisHuey
    from redis.sentinel import Sentinel

    from sentinel_group import SERVICE
    from z4j_agent._common import redis_url

    pool = Sentinel([("127.0.0.1", sentinel_group.sentinel_port)]).master_for(SERVICE, db=1).connection_pool
    h = RedisHuey("z4j-unit.sentinel", connection_pool=pool)
    h.storage.conn.ping()  # the consumer's own connection: these settings are right
    url = redis_url(zhuey._redis_client(h))
    assert url == f"redis+sentinel://127.0.0.1:{sentinel_group.sentinel_port}/{SERVICE}/1"
    assert sentinel_group.delivered(url) == 1


def test_a_scheduled_tasks_eta_says_its_zone_as_its_huey_meant_it(captured, monkeypatch):
    # Huey's times are naive: UTC by default, the process's local time with utc=False. The event
    # says which, so the service (which reads a naive time as UTC) never shifts an eta by a zone.
    import datetime
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        for utc in (True, False):
            h = MemoryHuey(f"eta-utc-{utc}", immediate=False, utc=utc)
            zhuey.install(h)

            @h.task()
            def later():
                return 1

            r = later.schedule(delay=3600)
            eta = datetime.datetime.fromisoformat(captured.tasks(r.id)[0]["fields"]["eta"])
            assert eta.tzinfo is not None, utc
            in_an_hour = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            assert abs((eta - in_an_hour).total_seconds()) < 60, (utc, eta, in_an_hour)
    finally:
        monkeypatch.undo()
        time.tzset()
