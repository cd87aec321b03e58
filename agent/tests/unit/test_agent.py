"""The agent end to end against a real Redis: delivery, redaction, payloads, fork, broker down, exit."""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from z4j_agent import core
from z4j_agent.policy import task_policy

from conftest import REDIS_URL

SECRET = "agent-test-secret-0123456789"


def make_agent(project, **over):
    core.reset_agent()
    cfg = dict(project=project, agent_id="agent-t", agent_secret=SECRET, broker_url=REDIS_URL, flush_interval=0.05)
    cfg.update(over)
    return core.get_agent(**cfg)


def read_events(client, project):
    events = []
    for _id, fields in client.xrange(f"z4j:events:{project}"):
        body, sig = fields[b"batch"], fields[b"sig"].decode()
        assert sig == hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        events.extend(json.loads(body)["events"])
    return events


@pytest.fixture
def project(redis_client):
    name = f"t-{uuid.uuid4().hex[:10]}"
    yield name
    redis_client.delete(f"z4j:events:{name}")


def test_events_arrive_signed_redacted_with_the_exact_payload(redis_client, project):
    agent = make_agent(project)
    payload = {"name": "tasks.charge", "args": [1], "kwargs": {"password": "hunter2-secret"}, "queue": "q"}
    agent.task_event("rq", "enqueued", "t1", fields={"name": "tasks.charge", "args": [1], "kwargs": {"password": "hunter2-secret", "note": "Bearer abcdefghijklmnop"}}, payload=payload)
    agent.task_event("rq", "failed", "t1", fields={"name": "tasks.charge", "exception": "ValueError: token=sk_live_abcdefghijklmnopqrst", "traceback": "Traceback…"})
    assert agent.flush(5)
    events = read_events(redis_client, project)
    assert [e["kind"] for e in events] == ["enqueued", "failed"]
    assert events[0]["payload"] == payload  # exact, for retries (sealed by the service)
    assert "hunter2" not in json.dumps([e["fields"] for e in events])
    assert "sk_live" not in json.dumps(events)
    assert events[0]["fields"]["kwargs"]["note"] == "Bearer [redacted]"
    assert agent.stats()["dropped"] == 0


def test_policies_skip_and_sample(redis_client, project):
    agent = make_agent(project)
    task_policy("noisy.task", skip=True)
    task_policy("half.task", sample=0.5)
    agent.task_event("rq", "started", "a", fields={"name": "noisy.task"})
    for i in range(200):
        agent.task_event("rq", "started", f"h{i}", fields={"name": "half.task"})
        agent.task_event("rq", "succeeded", f"h{i}", fields={"name": "half.task"})
    assert agent.flush(5)
    events = read_events(redis_client, project)
    assert not [e for e in events if e["fields"]["name"] == "noisy.task"]
    kept = {e["taskId"] for e in events}
    assert 50 < len(kept) < 150
    for t in kept:  # a sampled task keeps all its events
        assert sorted(e["kind"] for e in events if e["taskId"] == t) == ["started", "succeeded"]


def test_broker_down_costs_the_task_nothing_and_counts_drops():
    agent = make_agent("down", broker_url="redis://127.0.0.1:1/0", buffer_size=100)
    t0 = time.perf_counter()
    for i in range(1000):
        agent.task_event("rq", "started", str(i), fields={"name": "x"})
    per_call = (time.perf_counter() - t0) / 1000
    assert per_call < 0.001  # a hook never waits for the network
    time.sleep(0.3)
    s = agent.stats()
    assert s["dropped"] >= 900 and s["queued"] <= 100 and s["errors"] >= 1


def test_a_forked_child_sends_its_own_events_once(redis_client, project):
    agent = make_agent(project)
    agent.task_event("rq", "enqueued", "parent-1", fields={"name": "p"})
    assert agent.flush(5)
    pid = os.fork()
    if pid == 0:  # the child: events recorded here are the child's
        code = 0
        try:
            agent.task_event("rq", "started", "child-1", fields={"name": "c"})
            code = 0 if agent.flush(5) else 3
        except Exception:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    agent.task_event("rq", "succeeded", "parent-1", fields={"name": "p"})
    assert agent.flush(5)
    events = read_events(redis_client, project)
    assert sorted((e["taskId"], e["kind"]) for e in events) == [("child-1", "started"), ("parent-1", "enqueued"), ("parent-1", "succeeded")]


def test_events_are_flushed_when_the_process_exits(redis_client, project):
    script = (
        "import z4j_agent\n"
        f"a = z4j_agent.get_agent(project={project!r}, agent_id='agent-t', agent_secret={SECRET!r}, broker_url={REDIS_URL!r}, flush_interval=5)\n"
        "for i in range(300): a.task_event('huey', 'succeeded', f'x{i}', fields={'name': 'n'})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert len(read_events(redis_client, project)) == 300


def test_exit_waits_for_a_batch_the_sender_has_taken_but_not_sent(redis_client, project):
    # The sender takes events from the buffer before it builds and sends them: at exit the buffer
    # can be empty with a batch still in hand. A slow first send (connecting, a loaded box) makes
    # that window wide here.
    script = (
        "import time, z4j_agent\n"
        "from z4j_agent import transport\n"
        f"a = z4j_agent.get_agent(project={project!r}, agent_id='agent-t', agent_secret={SECRET!r}, broker_url={REDIS_URL!r}, flush_interval=0.01)\n"
        "real = transport.make_transport\n"
        "def slow(*args, **kw):\n"
        "    time.sleep(0.5)\n"
        "    return real(*args, **kw)\n"
        "import z4j_agent.core as core; core.make_transport = slow\n"
        "a.task_event('huey', 'succeeded', 'in-hand', fields={'name': 'n'})\n"
        "deadline = time.monotonic() + 5\n"
        "while len(a._buffer) and time.monotonic() < deadline: time.sleep(0.001)\n"
        "assert len(a._buffer) == 0 and not a._idle.is_set(), 'the sender should hold the batch now'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert [e["taskId"] for e in read_events(redis_client, project)] == ["in-hand"]


def test_no_heartbeat_follows_the_stop_of_the_heartbeat(redis_client, project):
    """A beat caught between its wait and its record when the worker says goodbye must not land
    after the goodbye: stamped later, it would show the stopped worker online for good."""
    agent = make_agent(project, heartbeat_interval=0.01)
    inside, release = threading.Event(), threading.Event()

    def stats():
        inside.set()
        release.wait(2)
        return {}

    stop = agent.start_heartbeat("celery", "w1", stats)
    assert inside.wait(2)
    stop()
    agent.worker_event("celery", "worker-offline", "w1")
    release.set()
    time.sleep(0.1)  # room for a late beat to be recorded
    assert agent.flush(2)
    kinds = [e["kind"] for e in read_events(redis_client, project) if e["type"] == "worker"]
    assert kinds[-1] == "worker-offline", kinds


def test_bad_configuration_disables_the_agent_without_raising():
    core.reset_agent()
    agent = core.get_agent(project="Not A Slug", agent_id="a", agent_secret="s")
    agent.task_event("rq", "started", "1", fields={})
    assert agent.stats()["disabled"] is True
    core.reset_agent()
    assert core.get_agent(agent_id="", agent_secret="").stats()["disabled"] is True


def test_z4j_broker_url_wins_over_the_engines_broker(monkeypatch):
    # A Dramatiq / Celery worker on RabbitMQ whose agent publishes to a Redis stream.
    core.reset_agent()
    monkeypatch.setenv("Z4J_BROKER_URL", "redis://127.0.0.1:6390/0")
    agent = core.get_agent(agent_id="a", agent_secret="s", broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert agent.config.broker_url == "redis://127.0.0.1:6390/0"
    core.reset_agent()
    monkeypatch.delenv("Z4J_BROKER_URL")
    assert core.get_agent(agent_id="a", agent_secret="s", broker_url="amqp://h//").config.broker_url == "amqp://h//"
    core.reset_agent()
