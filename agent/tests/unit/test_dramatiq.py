"""z4j_agent.dramatiq with Dramatiq's StubBroker and a real in-process Worker."""
import threading
import time

import pytest

dramatiq = pytest.importorskip("dramatiq")
from dramatiq import group, pipeline  # noqa: E402
from dramatiq.brokers.stub import StubBroker  # noqa: E402

from z4j_agent.dramatiq import Z4jMiddleware  # noqa: E402

SECRET = "hunter2-secret"
runs = {}


@pytest.fixture
def broker(captured):
    b = StubBroker()
    b.emit_after("process_boot")
    b.settled_ = Settled()
    b.add_middleware(b.settled_)  # before the agent's: its after-hooks run after the agent's
    b.add_middleware(Z4jMiddleware())
    dramatiq.set_broker(b)
    runs.clear()

    @dramatiq.actor(broker=b, max_retries=0)
    def add(x, y, password=None):
        return x + y

    @dramatiq.actor(broker=b, max_retries=0)
    def fail(message):
        raise ValueError(message)

    @dramatiq.actor(broker=b, max_retries=2, min_backoff=10, max_backoff=20)
    def flaky(key):
        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            raise RuntimeError(f"first attempt of {key}")
        return "ok"

    @dramatiq.actor(broker=b, max_retries=0)
    def spawn():
        return add.send(1, 2).message_id

    b.actors_ = {"add": add, "fail": fail, "flaky": flaky, "spawn": spawn}
    w = dramatiq.Worker(b, worker_timeout=50, worker_threads=2)
    w.start()
    yield b
    w.stop()
    b.close()


class Settled(dramatiq.Middleware):
    """The acks and nacks the consumer thread began, and those whose after-hooks all ran. The stub
    broker's join returns at the ack or nack itself, before the after-hooks, where the agent
    reports failed, rejected and retried."""

    def __init__(self):
        self._lock = threading.Lock()
        self.begun = self.ended = 0

    def before_ack(self, broker, message):
        with self._lock:
            self.begun += 1

    def after_ack(self, broker, message):
        with self._lock:
            self.ended += 1

    before_nack, after_nack = before_ack, after_ack


def run(b):
    b.join("default", fail_fast=False)
    deadline = time.monotonic() + 5
    while b.settled_.ended < b.settled_.begun and time.monotonic() < deadline:  # each ack or nack began before join returned
        time.sleep(0.002)


def test_success_with_payload_result_and_runtime(broker, captured):
    m = broker.actors_["add"].send(2, 3, password=SECRET)
    run(broker)
    assert captured.kinds(m.message_id) == ["enqueued", "started", "succeeded"]
    enq = captured.of(m.message_id, "enqueued")
    assert enq["payload"] == {"name": "add", "args": [2, 3], "kwargs": {"password": SECRET}, "queue": "default", "options": {}}
    assert enq["fields"]["kwargs"] == {"password": "[redacted]"}
    done = captured.of(m.message_id, "succeeded")
    assert done["fields"]["result"] == 5 and done["fields"]["runtime"] >= 0 and done["worker"].startswith("dramatiq@")
    assert captured.workers("worker-online")[0]["fields"]["concurrency"] == 2


def test_failure_is_dead_lettered(broker, captured):
    m = broker.actors_["fail"].send("boom")
    run(broker)
    assert captured.kinds(m.message_id) == ["enqueued", "started", "failed", "rejected"]
    f = captured.of(m.message_id, "failed")["fields"]
    assert f["exception"] == "ValueError: boom" and "Traceback" in f["traceback"] and f["retries"] == 0
    assert captured.of(m.message_id, "rejected")["fields"]["deadLettered"] is True


def test_retry_then_success(broker, captured):
    m = broker.actors_["flaky"].send("k1")
    run(broker)
    deadline = time.time() + 5
    while "succeeded" not in captured.kinds(m.message_id) and time.time() < deadline:
        run(broker)
    evs = [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(m.message_id)]
    # In order within each attempt, not across them: the first attempt's `retried` is reported at
    # its ack, which the consumer thread may do after the second attempt has begun, even ended.
    by_attempt = {n: [kind for kind, retries in evs if retries == n] for n in (0, 1)}
    assert by_attempt == {0: ["enqueued", "started", "retried"], 1: ["enqueued", "started", "succeeded"]}, evs
    assert len(evs) == 6, evs
    assert sum(1 for e in captured.tasks(m.message_id) if "payload" in e) == 1  # the producer's (its agent marked the message)


def test_the_worker_copies_the_payload_when_the_producer_has_no_agent(broker, captured):
    from z4j_agent import core

    agent = core.get_agent()
    agent.enabled = False  # the producer: no agent
    try:
        m = broker.actors_["add"].send(2, 3)
    finally:
        agent.enabled = True
    run(broker)
    assert captured.kinds(m.message_id)[0] == "started"
    assert captured.of(m.message_id, "started")["payload"]["args"] == [2, 3]


def test_pipeline_steps_know_parent_and_root(broker, captured):
    add = broker.actors_["add"]
    p = pipeline([add.message(1, 1), add.message(10), add.message(100)], broker=broker).run()
    ids = [m.message_id for m in p.messages]
    for _ in range(3):
        run(broker)
    for i, mid in enumerate(ids):
        done = captured.of(mid, "succeeded")["fields"]
        assert done["rootId"] == ids[0]
        assert done.get("parentId") == (ids[i - 1] if i else None)
    assert captured.of(ids[2], "succeeded")["fields"]["result"] == 112


def test_group_members_share_a_group_id(broker, captured):
    from dramatiq.middleware import GroupCallbacks
    from dramatiq.rate_limits.backends import StubBackend

    broker.add_middleware(GroupCallbacks(StubBackend()))
    add = broker.actors_["add"]
    g = group([add.message(i, i) for i in range(3)], broker=broker)
    g.add_completion_callback(add.message(0, 0))
    g.run()
    run(broker)
    gids = {e["fields"].get("groupId") for e in captured.tasks() if e["kind"] == "succeeded" and e["fields"].get("groupId")}
    assert len(gids) == 1


def test_a_message_cancelled_before_it_runs_is_skipped_acked_and_reported_revoked(broker, captured):
    agent_mw = next(m for m in broker.middleware if isinstance(m, Z4jMiddleware))
    message = broker.actors_["flaky"].message("cancelled")
    assert agent_mw._running_threads.cancel({"taskId": message.message_id})["remembered"] is True
    broker.enqueue(message)
    other = broker.actors_["flaky"].send("other")
    run(broker)
    assert "cancelled" not in runs and runs["other"] == 2  # never ran; the next message did
    assert captured.kinds(message.message_id) == ["enqueued", "revoked"]
    assert captured.of(message.message_id, "revoked")["fields"]["reason"] == "cancelled from z4j"
    assert broker.dead_letters == [] and "started" not in captured.kinds(message.message_id)
    assert captured.kinds(other.message_id)[-1] == "succeeded"


def test_a_running_message_terminated_from_z4j_is_stopped_and_reported_revoked(broker, captured):
    agent_mw = next(m for m in broker.middleware if isinstance(m, Z4jMiddleware))

    @dramatiq.actor(broker=broker, max_retries=3)
    def spin(key):
        runs[key] = "running"
        while True:  # stops at its next Python instruction once terminated
            time.sleep(0.01)

    m = spin.send("spin")
    deadline = time.time() + 5
    while m.message_id not in agent_mw._running and time.time() < deadline:
        time.sleep(0.01)
    assert agent_mw._terminate({"taskId": m.message_id})["stopped"] is True
    run(broker)
    assert captured.kinds(m.message_id)[-1] == "revoked" and "retried" not in captured.kinds(m.message_id)
    with pytest.raises(Exception, match="not running"):
        agent_mw._terminate({"taskId": m.message_id})


def test_policies_apply_to_every_event_and_links_reach_the_outcome(broker, captured):
    """started and a None result's succeeded skip the snapshot (Agent.own_event), and the
    outcome reuses the start's fields: a skip policy still drops them, a sampled-out message
    loses all its events, a kept one keeps all three with the same fields."""
    from z4j_agent.policy import task_policy

    @dramatiq.actor(broker=broker, max_retries=0, actor_name="z4j_quiet")
    def quiet():
        return None

    @dramatiq.actor(broker=broker, max_retries=0, actor_name="z4j_half")
    def half(i):
        return None

    task_policy("z4j_quiet", skip=True)
    task_policy("z4j_half", sample=0.5)
    q = quiet.send()
    ids = [half.send(i).message_id for i in range(60)]
    run(broker)
    assert captured.kinds(q.message_id) == []
    kept = [t for t in ids if captured.kinds(t)]
    assert 10 < len(kept) < 50
    for t in kept:
        assert captured.kinds(t) == ["enqueued", "started", "succeeded"]
    start, done = captured.of(kept[0], "started")["fields"], captured.of(kept[0], "succeeded")["fields"]
    assert "result" not in done and done["runtime"] >= 0
    assert {k: v for k, v in done.items() if k != "runtime"} == start == {"name": "z4j_half", "queue": "default", "retries": 0}


def test_messages_sent_by_a_running_message_are_its_children(broker, captured):
    """An actor's own sends and its callbacks (on_success here) are its children; the retry
    payload of a child does not carry the link."""
    parent = broker.actors_["spawn"].send_with_options(on_success=broker.actors_["add"])
    run(broker)
    child = captured.of(parent.message_id, "succeeded")["fields"]["result"]
    callbacks = [e["taskId"] for e in captured.tasks() if e["kind"] == "enqueued" and e["taskId"] not in (parent.message_id, child)]
    assert len(callbacks) == 1
    for tid in (child, callbacks[0]):
        f = captured.of(tid, "enqueued")["fields"]
        assert f["parentId"] == parent.message_id and f["rootId"] == parent.message_id and "dependsOn" not in f
    assert "z4j_sent_by" not in captured.of(child, "enqueued")["payload"]["options"]
    assert "parentId" not in captured.of(parent.message_id, "enqueued")["fields"]  # sent from outside any message


def _agent_middleware(b):
    return next(m for m in b.middleware if isinstance(m, Z4jMiddleware))


def test_delayed_messages_moved_while_the_agent_is_off_are_not_kept(broker, captured):
    from dramatiq import Message

    from z4j_agent import core

    mw = _agent_middleware(broker)
    message = Message(queue_name="default", actor_name="add", args=(1, 2), kwargs={}, options={})
    agent = core.get_agent()
    agent.enabled = False
    try:
        mw.before_delay_message(broker, message)  # the worker moves it from its delay queue...
        mw.after_enqueue(broker, message, None)  # ...and enqueues it
    finally:
        agent.enabled = True
    assert not mw._moving


def test_enqueues_that_raised_are_forgotten_past_a_bound(broker, captured):
    """after_enqueue does not run when the broker raises: what before_enqueue noted must not stay forever."""
    from dramatiq import Message

    from z4j_agent._common import MAX_PENDING_SENDS

    mw = _agent_middleware(broker)
    for i in range(MAX_PENDING_SENDS + 500):
        mw.before_enqueue(broker, Message(queue_name="default", actor_name="add", args=(i,), kwargs={}, options={}), None)
    assert len(mw._enqueued_at) <= MAX_PENDING_SENDS


def test_the_ack_of_a_delayed_copy_is_not_the_outcome_of_the_run_it_became(broker, captured):
    """The worker acks a retry's delayed copy (`default.DQ`, same id) after it moved it to its
    queue; when the moved message already ran and failed for good, that late ack must not turn
    the failure into a retry."""
    from dramatiq import Message

    mw = _agent_middleware(broker)
    retry = Message(queue_name="default", actor_name="fail", args=("boom",), kwargs={}, options={"retries": 1})
    mw.before_process_message(broker, retry)
    mw.after_process_message(broker, retry, exception=ValueError("boom"))
    mw.after_ack(broker, retry.copy(queue_name="default.DQ"))
    mw.after_nack(broker, retry)
    assert [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(retry.message_id)] == [("started", 1), ("failed", 1), ("rejected", 1)]


def test_a_letter_requeued_from_z4j_reruns_as_a_new_attempt_and_keeps_the_count_out_of_its_payload(broker, captured):
    """z4j's requeue of a dead letter counts it in `z4j_requeues`: the rerun repeats the letter's
    retries, and only the count tells it from the attempt that ended (which would keep it failed)."""
    from dramatiq import Message

    mw = _agent_middleware(broker)
    letter = Message(queue_name="default", actor_name="add", args=(1, 2), kwargs={}, options={"retries": 2, "z4j_requeues": 1})
    mw.before_process_message(broker, letter)
    mw.after_process_message(broker, letter, result=3)
    mw.after_ack(broker, letter)
    assert [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(letter.message_id)] == [("started", 3), ("succeeded", 3)]
    assert "z4j_requeues" not in mw._payload(letter)["options"]


def test_messages_skipped_before_they_start_leave_the_in_flight_count_alone(broker, captured):
    """AgeLimit skips a message past its max_age before this middleware's start, and a cancel
    from z4j skips one with nothing recorded: neither ran, so neither ends a run in the counts."""
    from dramatiq.common import current_millis

    mw = _agent_middleware(broker)
    release = {"go": False}

    @dramatiq.actor(broker=broker, max_retries=0)
    def hold():
        while not release["go"]:
            time.sleep(0.01)

    @dramatiq.actor(broker=broker, max_retries=0, max_age=1000)
    def old():
        pass

    held = hold.send()
    deadline = time.time() + 5
    while held.message_id not in mw._running and time.time() < deadline:
        time.sleep(0.01)
    skipped = [broker.enqueue(old.message().copy(message_timestamp=current_millis() - 5000)) for _ in range(3)]
    cancelled = broker.actors_["add"].message(1, 2)
    mw._running_threads.cancel({"taskId": cancelled.message_id})
    broker.enqueue(cancelled)
    while len([e for e in captured.tasks() if e["kind"] in ("expired", "revoked")]) < 4 and time.time() < deadline:
        time.sleep(0.01)
    try:
        assert all("expired" in captured.kinds(m.message_id) for m in skipped)
        assert captured.kinds(cancelled.message_id)[-1] == "revoked"
        assert {k: v for k, v in mw._flight.stats(None).items() if k != "failed"} == {"active": 1, "processed": 0}
    finally:
        release["go"] = True
    run(broker)
    assert mw._flight.stats(None)["active"] == 0 and mw._flight.stats(None)["processed"] == 1


def test_the_failed_count_leaves_out_the_retries_an_actor_asked_for(broker, captured):
    """agent/README.md, "Workers": an exception counts, retried or not; a dramatiq.Retry the
    actor raised is a retry it asked for, unless Retries fails the message instead (out of
    retries): that run is reported failed, and counts."""
    @dramatiq.actor(broker=broker, max_retries=2)
    def retry_once(key):
        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            raise dramatiq.Retry("again, please", delay=10)
        return "ok"

    @dramatiq.actor(broker=broker, max_retries=0)
    def retry_past_max():
        raise dramatiq.Retry("again, please")

    mw = _agent_middleware(broker)
    broker.actors_["add"].send(1, 2)  # a run, no failure
    broker.actors_["fail"].send("boom")  # one run, one failure
    asked = retry_once.send("k-retry")  # a Retry, then success: two runs, no failure
    refused = retry_past_max.send()  # a Retry Retries refuses: failed, one failure
    flaky = broker.actors_["flaky"].send("k-flaky")  # an exception retried, then success: two runs, one failure
    deadline = time.time() + 5
    while time.time() < deadline and not (captured.kinds(refused.message_id)[-1:] == ["rejected"] and
                                          all(captured.kinds(m.message_id)[-1:] == ["succeeded"] for m in (asked, flaky))):
        run(broker)
    assert captured.kinds(asked.message_id)[-1] == "succeeded" and "retried" in captured.kinds(asked.message_id)
    assert captured.kinds(refused.message_id)[-2:] == ["failed", "rejected"]
    assert "z4jRetryAsked" not in captured.of(asked.message_id, "retried")["fields"]
    assert "z4jRetryAsked" not in captured.of(refused.message_id, "failed")["fields"]
    stats = mw._flight.stats(None)
    assert (stats["processed"], stats["failed"]) == (7, 3)


def test_a_call_json_would_change_is_carried_with_json_and_left_out_with_pickle(broker, captured):
    """Dramatiq's JSONEncoder (the default) gives the actor [1, 2] for (1, 2): the payload is exact
    as JSON makes it. With a PickleEncoder the actor receives (1, 2)."""
    from dramatiq.encoder import PickleEncoder

    m = broker.actors_["add"].send((1, 2), (3,))
    run(broker)  # before the encoder changes: the worker decodes with the one in use
    assert captured.of(m.message_id, "enqueued")["payload"]["args"] == [[1, 2], [3]]
    encoder = dramatiq.get_encoder()
    dramatiq.set_encoder(PickleEncoder())
    try:
        p = broker.actors_["add"].send((1, 2), (3,))
        run(broker)
    finally:
        dramatiq.set_encoder(encoder)
    enq = captured.of(p.message_id, "enqueued")
    assert "payload" not in enq and enq["fields"]["payloadOmitted"] == "its arguments hold a tuple, which JSON would turn into a list"


def test_a_rabbitmq_broker_with_a_tls_context_lends_it_to_the_agent(tls_rabbit):
    """A RabbitmqBroker's TLS is an SSLContext in its pika parameters: the agent's URL said
    amqp:// to the TLS port, and nothing was delivered. It now says amqps:// and the agent's
    connections use the worker's own context."""
    import pika
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from test_transport_tls import _delivered
    from z4j_agent.dramatiq import _broker_url

    broker = RabbitmqBroker(host="127.0.0.1", port=tls_rabbit.port, ssl_options=pika.SSLOptions(tls_rabbit.client_context()))
    try:
        assert broker.connection.is_open  # the worker's own connection: these settings are right
        url = _broker_url(broker)
        assert url == f"amqps://guest:guest@127.0.0.1:{tls_rabbit.port}/%2F"
        assert _delivered("pika", url) == 1
    finally:
        broker.close()


GEVENT_WORKER = r"""
from gevent import monkey; monkey.patch_all()  # as dramatiq-gevent starts a worker
import json, sys, time
import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.worker import Worker
from z4j_agent import core
from z4j_agent.dramatiq import Terminated, Z4jMiddleware

core.get_agent(agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:1/0")  # nothing is delivered here
broker = StubBroker()
broker.emit_after("process_boot")
agent_mw = Z4jMiddleware()
broker.add_middleware(agent_mw)
dramatiq.set_broker(broker)
ended = []

@dramatiq.actor(broker=broker, max_retries=3)
def spin():
    try:
        while True:
            time.sleep(0.01)  # gevent's: the greenlet waits here
    except Terminated:
        ended.append("terminated")
        raise

worker = Worker(broker, worker_threads=2)
worker.start()
m = spin.send()
deadline = time.time() + 5
while m.message_id not in agent_mw._running and time.time() < deadline:
    time.sleep(0.01)
outcome = agent_mw._terminate({"taskId": m.message_id})
broker.join(spin.queue_name, fail_fast=False)
worker.stop()
print(json.dumps({"outcome": outcome, "ended": ended, "dead": len(broker.dead_letters)}))
"""


def test_terminate_stops_a_message_in_a_gevent_worker():
    """Under gevent (dramatiq-gevent) a worker thread is a greenlet, and threading.get_ident()
    its id: no OS thread takes the exception, and terminate answered "could not be interrupted".
    It is now raised in the greenlet where it waits, as gevent's Timeout does."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", GEVENT_WORKER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == {"stopped": True, "how": "exception raised in its greenlet"}
    assert result["ended"] == ["terminated"] and result["dead"] == 1  # not retried: failed


def test_a_redis_broker_on_sentinel_lends_the_agent_its_sentinels_and_master(sentinel_group):
    from redis.sentinel import Sentinel

    from dramatiq.brokers.redis import RedisBroker
    from sentinel_group import SERVICE
    from z4j_agent.dramatiq import _broker_url

    broker = RedisBroker(client=Sentinel([("127.0.0.1", sentinel_group.sentinel_port)]).master_for(SERVICE))
    broker.client.ping()  # the worker's own connection: these settings are right
    url = _broker_url(broker)
    assert url == f"redis+sentinel://127.0.0.1:{sentinel_group.sentinel_port}/{SERVICE}/0"
    assert sentinel_group.delivered(url) == 1


def test_a_rabbitmq_broker_of_several_nodes_lends_the_agent_a_failover_list():
    """RabbitmqBroker(url=[...]), a cluster's nodes: the agent's URL lists them all, in order
    (transport.failover_urls), not the first alone. Nothing connects here."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from z4j_agent.dramatiq import _broker_url

    broker = RabbitmqBroker(url=["amqp://u:p@node-1:5672/prod", "amqp://u:p@node-2:5673/prod"])
    assert _broker_url(broker) == "amqp://u:p@node-1:5672/prod;amqp://u:p@node-2:5673/prod"
