import dataclasses
import json
import os
import urllib.parse

import pytest
import redis

REDIS_URL = os.environ.get("Z4J_TEST_AGENT_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With Z4J_TEST_NO_SKIPS set (the runs on the newest engines, scripts/test-all.sh), a skipped
    test fails: the skips are for the older engines of the floor and mid runs, never a way to pass
    quietly."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("Z4J_TEST_NO_SKIPS"):
        report.outcome = "failed"
        report.longrepr = f"skipped where nothing may skip (Z4J_TEST_NO_SKIPS): {report.longrepr}"


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as err:  # fail, never skip: CI starts Redis
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({err}); start it with `bash scripts/services.sh start`")
    yield client
    client.close()


@pytest.fixture(scope="session")
def tls_rabbit():
    """The test RabbitMQ behind TLS with a private CA (tls_proxy.py)."""
    from test_commands_amqp import AMQP_URL
    from tls_proxy import start

    rabbit, stop = start(AMQP_URL, "amqps://guest:guest@{host}:{port}/%2F")
    yield rabbit
    stop()


@pytest.fixture(scope="session")
def tls_redis():
    """The test Redis (its database of REDIS_URL) behind TLS with a private CA (tls_proxy.py)."""
    from tls_proxy import start

    db = urllib.parse.urlsplit(REDIS_URL).path or "/0"
    proxy, stop = start(REDIS_URL, "rediss://{host}:{port}" + db)
    yield proxy
    stop()


@pytest.fixture
def sentinel_group():
    """A Redis master, its replica and a Sentinel, started for the test (sentinel_group.py)."""
    from sentinel_group import SentinelGroup

    group = SentinelGroup()
    yield group
    group.stop()


@pytest.fixture
def tls_sentinel_group():
    """The same, every server speaking TLS only, with a certificate of a CA made for the run."""
    from sentinel_group import SentinelGroup

    group = SentinelGroup(tls=True)
    yield group
    group.stop()


class Captured(list):
    """Envelopes the agent would send, in order (kept in memory instead of sent)."""

    RANK = {"enqueued": 1, "received": 2, "started": 3, "retried": 4}

    def tasks(self, task_id=None):
        """A task's events in the order the service folds them: by time, then lifecycle."""
        found = [e for e in self if e["type"] == "task" and (task_id is None or e["taskId"] == task_id)]
        return sorted(found, key=lambda e: (e["occurredAt"], self.RANK.get(e["kind"], 5)))

    def kinds(self, task_id):
        return [e["kind"] for e in self.tasks(task_id)]

    def of(self, task_id, kind):
        found = [e for e in self.tasks(task_id) if e["kind"] == kind]
        assert found, f"no {kind} event for {task_id}: {self.kinds(task_id)}"
        return found[-1]

    def workers(self, kind=None):
        return [e for e in self if e["type"] == "worker" and (kind is None or e["kind"] == kind)]


_captured = Captured()


def beat_often(agent, seconds):
    """Heartbeats more often than Z4J_HEARTBEAT_INTERVAL allows (at least 0.1 s), for tests."""
    agent.configure(dataclasses.replace(agent.config, heartbeat_interval=seconds))


@pytest.fixture
def captured():
    """One enabled agent for the whole session (engine modules keep a reference to it), its
    sending replaced by an in-memory list that each test starts empty."""
    from z4j_agent import core

    agent = core._agent
    if agent is None or getattr(agent, "_z4j_test_capture", None) is not _captured:
        core.reset_agent()
        agent = core.get_agent(project="unit", agent_id="agent-unit", agent_secret="unit-secret", broker_url=REDIS_URL)
        beat_often(agent, 0.05)
        agent._enqueue = lambda item: _captured.append(json.loads(agent.event_json(item)))  # as the service reads it
        agent._enqueue_weighed = agent._enqueue
        agent.flush = lambda timeout=2.0, **_: True
        agent._z4j_test_capture = _captured
    _captured.clear()
    yield _captured


def events_of_a_producer(client, script):
    """Runs `script` in a process of its own with the agent's credentials in its environment and
    no broker URL (as a web app that only enqueues would run), then returns what reached the
    project's stream on the test Redis. The script finds the Redis URL in REDIS_URL."""
    import hashlib
    import hmac
    import subprocess
    import sys
    import uuid

    project, secret = f"p-{uuid.uuid4().hex[:10]}", "producer-secret"
    env = {k: v for k, v in os.environ.items() if not k.startswith("Z4J_")}
    env.update(Z4J_AGENT_ID="agent-producer", Z4J_AGENT_SECRET=secret, Z4J_PROJECT=project, Z4J_FLUSH_INTERVAL="0.05")
    done = subprocess.run([sys.executable, "-c", f"REDIS_URL = {REDIS_URL!r}\n{script}"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stream = f"z4j:events:{project}"
    try:
        events = []
        for _id, fields in client.xrange(stream):
            body = fields[b"batch"]
            assert fields[b"sig"].decode() == hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            events.extend(json.loads(body)["events"])
        return events, done.stderr
    finally:
        client.delete(stream)


def blocked_signals(thread):
    """The signals `thread` (alive) blocks, read from Linux's /proc (the agent's tests run on Linux:
    elsewhere this fails, it does not skip)."""
    import signal

    path = f"/proc/self/task/{thread.native_id}/status"
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: reading a thread's signal mask needs Linux's /proc")
    with open(path) as status:
        mask = int(next(line for line in status if line.startswith("SigBlk:")).split()[1], 16)
    return {sig for sig in signal.valid_signals() if mask & (1 << (sig - 1))}
