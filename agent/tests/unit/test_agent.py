"""The agent end to end against a real Redis: delivery, redaction, payloads, fork, broker down, exit."""
import hashlib
import hmac
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest

from z4j_agent import core
from z4j_agent.policy import task_policy

from conftest import REDIS_URL, beat_often

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


def test_a_policys_own_names_are_hidden_in_every_text_field(redis_client, project):
    agent = make_agent(project)
    task_policy("billing.charge", redact=["customer_ref"])
    message = "ValueError: no card for customer_ref=C-77"
    agent.task_event("rq", "failed", "p1", fields={"name": "billing.charge", "exception": message, "traceback": f"Traceback…\n{message}", "args": [message]})
    agent.task_event("rq", "failed", "p2", fields={"name": "other.task", "exception": message})
    assert agent.flush(5)
    by_task = {e["taskId"]: e["fields"] for e in read_events(redis_client, project)}
    assert "C-77" not in json.dumps(by_task["p1"])
    assert by_task["p1"]["exception"] == "ValueError: no card for customer_ref=[redacted]"
    assert by_task["p2"]["exception"] == message  # another task's policy is its own


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
            stats = agent.stats()
            if code == 0 and (stats["sent"], stats["batches"]) != (1, 1):  # its own work, not the parent's too
                code = 5
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
    agent = make_agent(project)
    beat_often(agent, 0.01)
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


def test_near_the_recursion_limit_the_agent_keeps_its_recursion_error():
    """A task deep in its own recursion that sends a job: the agent's work on the call (a snapshot,
    a user object's repr, the warning it logs when that fails) may pass the limit. Its RecursionError
    is the agent's, at every depth, never the task's."""
    from z4j_agent._common import guarded

    agent = make_agent("deep", broker_url="redis://127.0.0.1:1/0")
    recorded = []
    agent._enqueue = agent._enqueue_weighed = recorded.append

    class Node:
        def __init__(self, child):
            self.child = child

        def __repr__(self):
            return f"Node({self.child!r})"

    value = None
    for _ in range(100):
        value = Node(value)
    hook = guarded(repr)  # a hook that fails near the limit: its guard logs it
    escaped = 0

    def record():
        nonlocal escaped
        try:
            agent.task_event("rq", "enqueued", "1", fields={"args": [value]}, payload={"name": "t", "args": [value], "kwargs": {}})
            agent.own_event("rq", "started", "1", {"name": "t"})
            agent.worker_event("rq", "worker-heartbeat", "w")
            hook(value)
        except RecursionError:
            escaped += 1  # no call here: near the limit it would raise again

    def deepest(n=0):
        try:
            return deepest(n + 1)
        except RecursionError:
            return n

    def at_depth(n):
        return at_depth(n - 1) if n > 0 else record()

    top = deepest()
    for below in range(2, 200):
        try:
            at_depth(top - below)
        except RecursionError:
            pass  # too deep to call record() at all: the caller's own
    assert escaped == 0
    assert recorded
    core.reset_agent()


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_request_to_stop_raised_while_the_agent_reads_a_value_goes_on_to_the_task(stop):
    """A Ctrl-C, a time limit (Dramatiq's TimeLimitExceeded, gevent's Timeout), z4j's own
    terminate: raised from outside at whatever line runs, in the agent's repr of an argument too.
    The agent lets it go on (caught, it would be lost); an error of the repr stays the agent's."""
    agent = make_agent("stop", broker_url="redis://127.0.0.1:1/0")
    recorded = []
    agent._enqueue = agent._enqueue_weighed = recorded.append

    class Interrupted:
        def __repr__(self):
            raise stop()

    class Broken:
        def __repr__(self):
            raise ValueError("broken repr")

    with pytest.raises(stop):
        agent.task_event("rq", "started", "1", fields={"args": [Interrupted()]})
    agent.task_event("rq", "started", "2", fields={"args": [Broken()]})
    assert len(recorded) == 1 and '"args":["<Broken>"]' in agent.event_json(recorded[0])
    core.reset_agent()


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


def test_a_producer_whose_connection_tells_no_url_asks_it_once(monkeypatch, caplog):
    """adopt_broker runs at every enqueue: a connection whose URL cannot be read is asked once,
    and the agent says to set Z4J_BROKER_URL (a Sentinel-managed one tells its sentinels and
    master: test_redis_sentinel.py)."""
    from z4j_agent._common import redis_url

    assert redis_url(__import__("redis").Redis(host="10.0.0.5", port=6380, db=2, password="p w")) == "redis://:p%20w@10.0.0.5:6380/2"
    core.reset_agent()
    monkeypatch.delenv("Z4J_BROKER_URL", raising=False)
    agent = core.get_agent(agent_id="a", agent_secret="s")
    asked = []

    def unreadable():
        asked.append(1)
        raise AttributeError("connection_pool")

    with caplog.at_level("WARNING", logger="z4j_agent"):
        for _ in range(3):
            core.adopt_broker(agent, unreadable)
    assert asked == [1] and agent.config.broker_url == ""
    assert "cannot tell the broker" in caplog.text and "Z4J_BROKER_URL" in caplog.text
    core.reset_agent()


def test_the_agents_own_redis_connection_keeps_the_workers_tls_settings():
    """A worker on TLS Redis with a private CA: the URL the agent made of its client said rediss://
    and no more, so the agent's connection checked the server against the system's CAs (and its
    hostname) and failed where the worker's succeeded. And Celery's documentation writes
    ssl_cert_reqs=CERT_REQUIRED, which redis-py refuses as it connects."""
    import redis

    from z4j_agent._common import redis_url
    from z4j_agent.transport import redis_from_url

    worker = redis.Redis(host="10.0.0.5", port=6380, ssl=True, ssl_ca_certs="/etc/z4j test/ca.pem", ssl_certfile="/etc/client.pem",
                         ssl_keyfile="/etc/client.key", ssl_cert_reqs="required", ssl_check_hostname=False)
    agents = redis_from_url(redis_url(worker)).connection_pool.connection_kwargs
    for k in ("host", "port", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname"):
        assert agents[k] == worker.connection_pool.connection_kwargs[k], k
    assert agents["ssl_cert_reqs"] == "required"
    assert redis_url(redis.Redis(host="h", ssl=True)).startswith("rediss://h:6379/0")
    assert redis_url(redis.Redis(host="h")) == "redis://h:6379/0"

    for written, read in (("CERT_REQUIRED", "required"), ("CERT_NONE", "none"), ("optional", "optional")):
        client = redis_from_url(f"rediss://h:6380/0?ssl_cert_reqs={written}&ssl_ca_certs=/etc/ca.pem")
        assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] == read
        assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == "/etc/ca.pem"
        client.connection_pool.make_connection()  # where redis-py refuses a flag it does not know (nothing connects yet)


def _stream_delivered(url):
    """How many events one batch sent through `url` added to a new project's stream."""
    import redis

    from z4j_agent.transport import RedisStreamTransport

    project = f"tls-{uuid.uuid4().hex[:8]}"
    transport = RedisStreamTransport(url, "agent-1", project, 1000)
    plain = redis.Redis.from_url(REDIS_URL)
    try:
        transport.send(b"{}", "sig", 1)
        return plain.xlen(f"z4j:events:{project}")
    finally:
        transport.close()
        plain.delete(f"z4j:events:{project}")
        plain.close()


def test_the_agent_reaches_a_tls_redis_of_a_private_ca_as_its_worker_does(tls_redis):
    """Through a real TLS handshake (tls_proxy.py): the URL made of the worker's client carries
    its CA and client certificate; without them the agent's connection is refused."""
    import redis

    from z4j_agent._common import redis_url

    worker = redis.Redis(host="127.0.0.1", port=tls_redis.port, db=int(tls_redis.url().rsplit("/", 1)[1]), ssl=True, ssl_ca_certs=tls_redis.cafile,
                         ssl_certfile=tls_redis.certfile, ssl_keyfile=tls_redis.keyfile)
    try:
        assert worker.ping()  # these settings are right
        assert _stream_delivered(redis_url(worker)) == 1
    finally:
        worker.close()
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        _stream_delivered(tls_redis.url(ssl_certfile=tls_redis.certfile, ssl_keyfile=tls_redis.keyfile))


@pytest.mark.parametrize("raw", ['["x"]', '{"t": 1}', '{"t": {"redact": 5}}', '{"t": {"sample": "half"}}', '{"t": {"skip": "yes"}}', '{"t": {"sampel": 0.5}}', "{not json"])
def test_a_malformed_task_policies_variable_disables_the_agent_with_a_warning(monkeypatch, caplog, raw):
    from z4j_agent.core import policies as policy

    core.reset_agent()
    monkeypatch.setenv("Z4J_TASK_POLICIES", raw)
    with caplog.at_level("WARNING", logger="z4j_agent"):
        agent = core.get_agent(agent_id="a", agent_secret="s", broker_url=REDIS_URL)  # never raises into the host
    agent.task_event("rq", "started", "1", fields={"name": "t"})
    assert agent.stats()["disabled"] is True
    assert "Z4J_TASK_POLICIES" in caplog.text
    assert policy.policy_for("t") is policy.DEFAULT  # nothing of it applied
    core.reset_agent()


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles(monkeypatch, caplog):
    core.reset_agent()
    monkeypatch.setenv("Z4J_SAMPEL", "0.1")
    monkeypatch.setenv("Z4J_FLUSH_INTERVALL", "1")
    monkeypatch.setenv("Z4J_TEST_BROKER", "redis://x")  # far from every setting: not named
    monkeypatch.setenv("Z4J_SMTP_URL", "smtp://x")  # the service's, two edits from Z4J_HTTP_URL: not named
    with caplog.at_level("WARNING", logger="z4j_agent"):
        agent = core.get_agent(agent_id="a", agent_secret="s", broker_url=REDIS_URL)
    assert agent.config.sample == 1.0  # ignored, as the warning says
    warnings = [r.getMessage() for r in caplog.records if "is not a setting" in r.getMessage()]
    assert warnings == [
        "z4j agent: Z4J_FLUSH_INTERVALL is not a setting, and is ignored: did you mean Z4J_FLUSH_INTERVAL?",
        "z4j agent: Z4J_SAMPEL is not a setting, and is ignored: did you mean Z4J_SAMPLE?",
    ]
    core.reset_agent()


def test_no_setting_of_the_service_reads_as_a_misspelt_agent_variable():
    # One env file may serve the service and the workers: the service's settings, read from its
    # source, are never named (a new one a typo away from one of the agent's must be listed in
    # config._SERVICE_VARIABLES_NEARBY).
    from z4j_agent.config import misspelled_variables

    source = (pathlib.Path(__file__).parents[3] / "backend" / "src" / "config.ts").read_text()
    service = set(re.findall(r"^  (Z4J_[A-Z0-9_]+):", source, re.M))
    assert len(service) > 40
    assert misspelled_variables({name: "x" for name in service}) == []


def test_any_failure_to_make_the_agent_disables_it_instead_of_raising(monkeypatch):
    def broken(**_):
        raise RuntimeError("something unforeseen")

    core.reset_agent()
    monkeypatch.setattr(core, "load_config", broken)
    agent = core.get_agent(agent_id="a", agent_secret="s")
    assert agent.stats()["disabled"] is True
    core.reset_agent()


def test_a_bad_setting_from_a_later_install_keeps_the_agent_as_it_was(caplog):
    core.reset_agent()
    agent = core.get_agent(agent_id="a", agent_secret="s")  # made before any engine told it its broker
    with caplog.at_level("WARNING", logger="z4j_agent"):
        again = core.get_agent(broker_url=REDIS_URL, batch_size=0)  # an engine's install(app, batch_size=0)
    assert again is agent and agent.enabled and agent.config.batch_size == 500 and agent.config.broker_url == ""
    assert "Z4J_BATCH_SIZE" in caplog.text
    core.reset_agent()


@pytest.mark.parametrize("variable, value", [
    ("Z4J_FLUSH_INTERVAL", "0"), ("Z4J_FLUSH_INTERVAL", "-1"), ("Z4J_FLUSH_INTERVAL", "0.001"), ("Z4J_FLUSH_INTERVAL", "nan"),
    ("Z4J_FLUSH_INTERVAL", "inf"), ("Z4J_HEARTBEAT_INTERVAL", "0"), ("Z4J_HEARTBEAT_INTERVAL", "0.05"), ("Z4J_EXIT_FLUSH_TIMEOUT", "-1"),
    ("Z4J_EXIT_FLUSH_TIMEOUT", "inf"), ("Z4J_BUFFER_MAX_BYTES", "1000"),
    # Past threading.TIMEOUT_MAX a wait raises OverflowError: the sender died at its first wait
    # (restarted and dead again at every flush, each flush waiting out its timeout: an RQ horse
    # 0.5 s twice per job, a traceback each time), the heartbeat thread too.
    ("Z4J_FLUSH_INTERVAL", "1e10"), ("Z4J_HEARTBEAT_INTERVAL", "1e10"), ("Z4J_EXIT_FLUSH_TIMEOUT", "1e10"),
    # Bounds of the destination that cannot be one. RabbitMQ refuses the queue's declaration
    # (x-max-length-bytes < 0): every send failed, retried forever; a stream bound below 1 was
    # quietly taken as one entry.
    ("Z4J_AMQP_QUEUE_MAX_BYTES", "-1"), ("Z4J_AMQP_QUEUE_MAX_BYTES", "1099511627777"),
    ("Z4J_STREAM_MAXLEN", "0"), ("Z4J_STREAM_MAXLEN", "-5"),
])
def test_settings_that_cannot_work_disable_the_agent(monkeypatch, caplog, variable, value):
    core.reset_agent()
    monkeypatch.setenv(variable, value)
    with caplog.at_level("WARNING", logger="z4j_agent"):
        agent = core.get_agent(agent_id="a", agent_secret="s", broker_url=REDIS_URL)
    assert agent.stats()["disabled"] is True and variable in caplog.text
    core.reset_agent()


def test_the_destinations_bounds_accept_their_documented_values(monkeypatch):
    core.reset_agent()
    monkeypatch.setenv("Z4J_AMQP_QUEUE_MAX_BYTES", "0")  # no bound
    monkeypatch.setenv("Z4J_STREAM_MAXLEN", "1")
    agent = core.get_agent(agent_id="a", agent_secret="s", broker_url=REDIS_URL)
    assert agent.enabled and agent.config.amqp_queue_max_bytes == 0 and agent.config.stream_maxlen == 1
    core.reset_agent()


def rows(n):
    return [{"id": i, "name": f"user {i}", "email": f"user{i}@example.com", "tags": ["a", "b"]} for i in range(n)]


def test_a_retry_payload_too_big_to_carry_is_left_out_and_counted_not_encoded_whole(redis_client, project):
    agent = make_agent(project)
    big = rows(200_000)  # not plain (over 64 items): encoded on the task's thread, as far as the limit
    agent.task_event("rq", "enqueued", "big-1", fields={"name": "etl.load", "args": [big]}, payload={"name": "etl.load", "args": [big], "kwargs": {}, "queue": "q", "options": {}})
    assert agent._buffer.bytes == 0  # nothing of its JSON held in the buffer
    small = rows(100)  # not plain either, within the limit: sent whole
    agent.task_event("rq", "enqueued", "small-1", fields={"name": "etl.load"}, payload={"name": "etl.load", "args": [small], "kwargs": {}, "queue": "q", "options": {}})
    assert agent.flush(5)
    events = {e["taskId"]: e for e in read_events(redis_client, project)}
    assert "payload" not in events["big-1"] and events["big-1"]["fields"]["name"] == "etl.load"  # the event still goes
    assert events["big-1"]["fields"]["payloadOmitted"] == "its JSON passes 511 KiB"  # the timeline says why it cannot be retried
    assert events["small-1"]["payload"]["args"] == [small] and "payloadOmitted" not in events["small-1"]["fields"]
    assert agent.stats()["payloadsDropped"] == 1


def test_a_plain_retry_payload_too_big_to_carry_is_left_out_by_the_sender(redis_client, project):
    agent = make_agent(project)
    long_strings = ["x" * 20_000 for _ in range(40)]  # plain (few items, strings kept as they are), 800 KB of JSON
    agent.task_event("rq", "enqueued", "p-1", fields={"name": "n"}, payload={"name": "n", "args": long_strings, "kwargs": {}, "queue": "q", "options": {}})
    assert agent.flush(5)
    (event,) = read_events(redis_client, project)
    assert "payload" not in event and agent.stats()["payloadsDropped"] == 1
    assert event["fields"] == {"name": "n", "payloadOmitted": "its JSON passes 511 KiB"}


def test_an_event_too_big_for_a_batch_is_counted_dropped(redis_client, project):
    agent = make_agent(project)
    agent.task_event("rq", "succeeded", "huge", fields={"name": "n", "result": ["y" * 30_000 for _ in range(40)]})  # fields over 1 MiB
    agent.task_event("rq", "succeeded", "fine", fields={"name": "n", "result": 1})
    assert agent.flush(5)
    assert [e["taskId"] for e in read_events(redis_client, project)] == ["fine"]
    assert agent.stats()["dropped"] == 1 and agent.stats()["errors"] >= 1


def test_the_buffer_is_bounded_in_bytes_while_the_destination_is_down():
    agent = make_agent("down-bytes", broker_url="redis://127.0.0.1:1/0", buffer_max_bytes=1024 * 1024)
    one = rows(2_000)  # ~150 KB of JSON each: not plain, within the payload limit
    for i in range(40):  # 6 MB of payloads for a bound of 1 MiB
        agent.task_event("rq", "enqueued", f"t{i}", fields={"name": "n"}, payload={"name": "n", "args": [one], "kwargs": {}, "queue": "q", "options": {}})
    deadline = time.monotonic() + 3
    while agent.stats()["errors"] < 2 and time.monotonic() < deadline:  # a failed send or two: the batch put back, encoded
        time.sleep(0.05)
    assert agent._buffer.bytes <= 1024 * 1024
    assert agent.stats()["dropped"] >= 30  # the oldest, counted as the count bound does
    core.reset_agent()


class _FlakyTransport:
    """Delivers into a list, failing the second batch it is given once."""

    def __init__(self, delivered):
        self.delivered, self.calls = delivered, 0

    def send(self, body, sig, events=1):
        self.calls += 1
        if self.calls == 2:
            raise ConnectionError("the broker went away mid-send")
        self.delivered.extend(e["taskId"] for e in json.loads(body)["events"])

    def close(self):
        pass


def test_when_one_of_several_batches_fails_only_the_unsent_events_are_sent_again(monkeypatch):
    delivered = []
    transport = _FlakyTransport(delivered)
    agent = make_agent("partial", batch_size=1000)
    monkeypatch.setattr(agent, "_new_transport", lambda: transport)
    for i in range(600):  # 600 events of ~3 KB: two batches (1 MiB each at most) out of one take
        agent.task_event("rq", "succeeded", f"e{i}", fields={"name": "n", "result": "z" * 3000})
    assert agent.flush(10)
    assert sorted(delivered) == sorted(f"e{i}" for i in range(600))  # each once: none twice, none lost
    assert agent.stats()["sent"] == 600
    core.reset_agent()


def test_one_transport_is_made_whoever_starts_the_sender_and_none_per_flush_while_down(monkeypatch):
    agent = make_agent("one-transport", broker_url="redis://127.0.0.1:1/0")
    made = []
    real = agent._new_transport

    def counted():
        made.append(1)
        time.sleep(0.02)  # wide enough for the threads below to meet here
        return real()

    monkeypatch.setattr(agent, "_new_transport", counted)
    threads = [threading.Thread(target=agent._ensure_sender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    agent.task_event("rq", "started", "1", fields={"name": "n"})
    for _ in range(50):  # flushes while the sender backs off: it makes the next transport, when its backoff allows
        agent.flush(0.01)
    assert len(made) <= 4
    core.reset_agent()


def test_the_goodbye_and_atexit_share_one_exit_deadline():
    from z4j_agent._common import say_offline

    agent = make_agent("exit-deadline", broker_url="redis://127.0.0.1:1/0", exit_flush_timeout=0.5)
    agent.task_event("rq", "started", "1", fields={"name": "n"})
    t0 = time.monotonic()
    say_offline(agent, "rq", "w1", (), {})  # a worker's goodbye: flushes within the deadline (the broker is down)
    agent._at_exit()  # then the interpreter's exit
    elapsed = time.monotonic() - t0
    assert 0.45 <= elapsed < 0.9, elapsed  # once the deadline, not twice
    core.reset_agent()


def test_at_interpreter_shutdown_without_a_sender_the_exit_flush_gives_up_quietly_at_once(monkeypatch, caplog):
    """Python 3.12+ starts no thread from an atexit function (RuntimeError "can't create new
    thread at interpreter shutdown"). Simulated here: the exit flush, with events and no sender
    yet, neither raises (atexit would print the traceback) nor waits out its deadline."""
    import threading

    agent = make_agent("no-thread", broker_url="redis://127.0.0.1:1/0", exit_flush_timeout=2)

    class NoThreadAtShutdown(threading.Thread):
        def start(self):
            raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading, "Thread", NoThreadAtShutdown)
    agent.task_event("rq", "started", "1", fields={"name": "n"})  # recorded, no sender
    t0 = time.monotonic()
    with caplog.at_level("WARNING", logger="z4j_agent"):
        assert agent.exit_flush() is False
    assert time.monotonic() - t0 < 0.2
    assert "interpreter shutdown" in caplog.text and agent.stats()["queued"] == 1
    core.reset_agent()


def test_while_the_broker_is_down_the_sender_tries_again_at_least_every_5_s():
    """Its wait after a failed send doubles from 0.5 s up to 5 s, not more: once the broker is
    back, delivery resumes within 5 s, however long the outage was (an RQ work horse forked
    meanwhile trusts its parent's down_since, and would lose its job's events)."""
    agent = make_agent("backoff", broker_url="redis://127.0.0.1:1/0")
    waits = []

    class RecordedStop(threading.Event):  # the sender's backoff waits on its stop event
        def wait(self, timeout=None):
            waits.append(timeout)
            if len(waits) >= 8:
                self.set()
            return self.is_set()

    agent._stop = RecordedStop()
    agent.task_event("rq", "started", "1", fields={"name": "n"})
    agent.flush(0.1)  # starts the sender; every send is refused
    deadline = time.monotonic() + 10
    while len(waits) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waits[:8] == [0.5, 1, 2, 4, 5, 5, 5, 5]
    core.reset_agent()


def test_a_patient_flush_waits_and_an_impatient_one_gives_up_once_the_destination_is_down():
    agent = make_agent("impatient", broker_url="redis://127.0.0.1:1/0")
    agent.task_event("rq", "started", "1", fields={"name": "n"})
    t0 = time.monotonic()
    assert agent.flush(2, patient=False) is False  # the first send fails (refused): no waiting for the retry
    assert time.monotonic() - t0 < 1 and agent.down_since is not None
    t0 = time.monotonic()
    assert agent.flush(2, patient=False) is False  # known down: at once
    assert time.monotonic() - t0 < 0.05
    t0 = time.monotonic()
    assert agent.flush(0.3) is False  # a patient one still waits its timeout (the broker may come back)
    assert time.monotonic() - t0 >= 0.3
    core.reset_agent()


def test_a_batch_the_service_refuses_for_good_is_dropped_and_counted_not_retried_forever():
    """Over HTTP a 400 (malformed, project unknown) will be the answer every time: the batch is
    dropped and counted, and the events behind it still go."""
    import http.server

    received, refused = [], []

    class Service(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ids = [e["taskId"] for e in body["events"]]
            if "poison" in ids:
                refused.append(ids)
                self._answer(400, {"error": {"code": "UNKNOWN_PROJECT", "message": "project x does not exist"}})
            else:
                received.extend(ids)
                self._answer(202, {"accepted": len(ids)})

        def _answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        agent = make_agent("refused", transport="http", http_url=f"http://127.0.0.1:{server.server_port}", broker_url="", batch_size=1)
        agent.task_event("rq", "succeeded", "poison", fields={"name": "n"})
        agent.task_event("rq", "succeeded", "good", fields={"name": "n"})
        assert agent.flush(5)
        time.sleep(0.3)  # a retry, if any, would come within the sender's first backoff
        assert received == ["good"] and refused == [["poison"]]
        stats = agent.stats()
        assert stats["dropped"] == 1 and stats["sent"] == 1 and stats["errors"] >= 1
    finally:
        server.shutdown()
        core.reset_agent()


def test_a_backlog_of_big_arguments_stays_within_the_byte_bound(redis_client, project):
    # The broker is down (here: the sender never runs, and the agent knows the broker is away):
    # task snapshots are weighed, so big arguments count against buffer_max_bytes.
    agent = make_agent(project, buffer_max_bytes=4 * 1024 * 1024)
    agent._ensure_sender = lambda: None
    agent.down_since = time.monotonic()
    big = "x" * 30_000
    for i in range(600):
        agent.task_event("rq", "started", f"big-{i}", fields={"name": "n", "kwargs": {"blob": big}})
    held = len(agent._buffer)
    assert held * 30_000 <= 4 * 1024 * 1024 + 30_000, held
    assert agent.stats()["dropped"] == 600 - held
    # The broker back: what was held (weighed snapshots among it) is sent as any other event.
    del agent._ensure_sender
    agent.down_since = None
    agent._ensure_sender()
    assert agent.flush(30)
    assert len(read_events(redis_client, project)) == held
    core.reset_agent()


def test_the_http_transport_takes_the_services_url_or_its_ingest_endpoints_and_names_a_wrong_one():
    """Z4J_HTTP_URL is the service's URL; the endpoint's own (as the service's start banner shows
    it) works too, and a URL that is no z4j service is named in the error."""
    import http.server
    import urllib.error

    from z4j_agent.transport import HttpTransport

    paths = []

    class Service(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            paths.append(self.path)
            status = 202 if self.path == "/api/ingest/v1/batches" else 404
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        HttpTransport(base, "a").send(b"{}", "sig")
        HttpTransport(base + "/", "a").send(b"{}", "sig")
        HttpTransport(base + "/api/ingest/v1/batches", "a").send(b"{}", "sig")
        assert paths == ["/api/ingest/v1/batches"] * 3
        with pytest.raises(urllib.error.HTTPError) as caught:
            HttpTransport(f"{base}/z4j", "a").send(b"{}", "sig")
        assert f"no z4j ingest endpoint at {base}/z4j/api/ingest/v1/batches" in str(caught.value)
    finally:
        server.shutdown()
