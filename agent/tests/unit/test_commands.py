"""The agent's command channel: only the service's signed commands for this worker run, once,
before they expire, and nothing a command does reaches the host."""
import json
import threading
import time
import uuid

import pytest

from z4j_agent.commands import CommandError, CommandListener, command_key, sign_command
from z4j_agent.running import CancelledTasks, RunningTasks
from z4j_agent.config import Config

from conftest import REDIS_URL

SECRET = "unit-commands-secret"


class FakeAgent:
    def __init__(self, secret=SECRET):
        self.config = Config(project="unit", agent_id="agent-cmd", agent_secret=secret)
        self.enabled = True
        self.sent = []

    def _enqueue(self, envelope):
        self.sent.append(envelope)


def command(action="echo", *, worker="w1", secret=SECRET, expires_in=60.0, **over):
    body = {"v": 1, "id": uuid.uuid4().hex, "command": 7, "project": "unit", "agent": "agent-cmd", "worker": worker, "engine": "huey",
            "action": action, "args": {"x": 1}, "issuedAt": int(time.time() * 1000), "expiresAt": int((time.time() + expires_in) * 1000)}
    body.update(over)
    text = json.dumps(body)
    return json.dumps({"command": text, "sigs": [sign_command(text.encode(), secret)]}), body


@pytest.fixture
def listener(redis_client):
    agent = FakeAgent()
    calls = []

    def echo(args):
        calls.append(args)
        return {"echo": args["x"]}

    def boom(args):
        raise RuntimeError("the engine said no, password=hunter2-secret")

    def refuse(args):
        raise CommandError("not running here")

    lst = CommandListener(agent, "huey", "w1", REDIS_URL, {"echo": echo, "boom": boom, "refuse": refuse}, queues=["q"], client=redis_client)
    lst.calls = calls
    return lst


def outcome(lst):
    assert lst.agent.sent, "no outcome reported"
    return lst.agent.sent[-1]


def test_a_signed_command_runs_and_its_outcome_is_reported(listener):
    raw, body = command()
    assert listener.handle(raw) == "ran"
    assert listener.calls == [{"x": 1}]
    ev = outcome(listener)
    assert (ev["type"], ev["commandId"], ev["command"], ev["state"], ev["detail"]) == ("command", body["id"], 7, "succeeded", {"echo": 1})
    assert (ev["project"], ev["engine"], ev["worker"]) == ("unit", "huey", "w1")


def test_unsigned_forged_or_tampered_commands_are_dropped_unreported(listener):
    raw, _ = command(secret="someone-else")
    assert listener.handle(raw) == "refused:bad_signature"
    raw, _ = command()
    tampered = json.loads(raw)
    tampered["command"] = tampered["command"].replace('"x": 1', '"x": 2')
    assert listener.handle(json.dumps(tampered)) == "refused:bad_signature"
    text = json.loads(raw)["command"]
    batch_sig = __import__("hmac").new(SECRET.encode(), text.encode(), "sha256").hexdigest()  # signed like a batch, not a command
    assert listener.handle(json.dumps({"command": text, "sigs": [batch_sig]})) == "refused:bad_signature"
    assert listener.handle(b"not json") == "refused:malformed"
    assert listener.handle(json.dumps({"command": text})) == "refused:malformed"
    assert listener.calls == [] and listener.agent.sent == [] and listener.refused == 5


def test_a_command_for_another_worker_agent_project_or_engine_is_refused(listener):
    for over in ({"worker": "w2"}, {"agent": "other"}, {"project": "other"}, {"engine": "rq"}):
        raw, _ = command(**over)
        assert listener.handle(raw) == "refused:wrong_target"
    assert listener.calls == []


def test_any_live_secret_of_a_rotation_is_accepted(listener):
    raw, _ = command()
    wrapper = json.loads(raw)
    wrapper["sigs"] = [sign_command(wrapper["command"].encode(), "the-old-secret"), wrapper["sigs"][0]]
    assert listener.handle(json.dumps(wrapper)) == "ran"


def test_an_expired_command_is_not_executed_and_says_so(listener):
    raw, body = command(expires_in=-1)
    assert listener.handle(raw) == "expired"
    assert listener.calls == []
    ev = outcome(listener)
    assert ev["state"] == "failed" and ev["detail"]["code"] == "EXPIRED" and ev["commandId"] == body["id"]


def test_a_command_delivered_twice_runs_once_even_in_another_process(listener, redis_client):
    raw, _ = command()
    assert listener.handle(raw) == "ran"
    assert listener.handle(raw) == "duplicate"
    other = CommandListener(FakeAgent(), "huey", "w1", REDIS_URL, {"echo": lambda a: None}, client=redis_client)  # a second process, same broker
    assert other.handle(raw) == "duplicate"
    assert len(listener.calls) == 1 and len(listener.agent.sent) == 1


def test_a_failing_handler_is_a_failed_outcome_with_secrets_scrubbed(listener):
    raw, _ = command("boom")
    assert listener.handle(raw) == "failed"
    ev = outcome(listener)
    assert ev["state"] == "failed" and "the engine said no" in ev["detail"]["message"] and "hunter2-secret" not in json.dumps(ev)
    raw, _ = command("refuse")
    assert listener.handle(raw) == "failed"
    assert outcome(listener)["detail"] == {"message": "not running here"}
    raw, _ = command("shutdown-everything")
    assert listener.handle(raw) == "failed"
    assert outcome(listener)["detail"]["code"] == "UNSUPPORTED"


def test_an_oversized_command_is_dropped(listener):
    assert listener.handle(b"x" * (1024 * 1024 + 1)) == "refused:too_big"


def test_the_thread_takes_commands_from_its_worker_key_and_survives_garbage(listener, redis_client):
    key = command_key("unit", "w1")
    redis_client.delete(key)
    stop = listener.start()
    try:
        redis_client.lpush(key, b"garbage")
        raw, body = command()
        redis_client.lpush(key, raw)
        deadline = time.time() + 5
        while time.time() < deadline and not any(e.get("commandId") == body["id"] for e in listener.agent.sent):
            time.sleep(0.02)
        assert [e["state"] for e in listener.agent.sent] == ["succeeded"]
    finally:
        stop()


def test_a_broker_outage_never_reaches_the_host():
    agent = FakeAgent()
    lst = CommandListener(agent, "huey", "w1", "redis://127.0.0.1:1/0", {"echo": lambda a: {}})
    stop = lst.start()
    time.sleep(0.3)  # connection refused, backing off, quietly
    assert lst._thread.daemon  # never holds up the host's exit
    stop()
    raw, _ = command()
    assert lst.handle(raw) == "ran"  # the broker being down does not stop a delivered command (memory dedupe)


def test_no_listener_without_a_broker_it_can_read_or_a_secret():
    assert CommandListener(FakeAgent(), "huey", "w", "sqs://x", {"echo": lambda a: {}}).announcement() is None
    assert CommandListener(FakeAgent(), "huey", "w", "", {"echo": lambda a: {}}).announcement() is None
    off = FakeAgent()
    off.enabled = False
    assert CommandListener(off, "huey", "w", REDIS_URL, {"echo": lambda a: {}}).announcement() is None
    assert CommandListener(FakeAgent(), "huey", "w", REDIS_URL, {"echo": lambda a: {}}, queues=["q"]).announcement() == {"channel": "redis", "actions": ["echo"], "queues": ["q"]}


class Stop(BaseException):
    pass


def test_running_tasks_stop_exactly_the_thread_running_the_task():
    running = RunningTasks()
    outcome_of = {}
    started = threading.Event()

    def work(task_id):
        running.started_thread(task_id)
        started.set()
        try:
            for _ in range(300):
                time.sleep(0.01)
            outcome_of[task_id] = "finished"
        except Stop:
            outcome_of[task_id] = "stopped"
        finally:
            running.finished(task_id)

    other = threading.Thread(target=work, args=("other",))
    target = threading.Thread(target=work, args=("target",))
    other.start()
    target.start()
    started.wait(2)
    time.sleep(0.1)
    detail = running.stop("target", Stop, wait=5)
    assert detail["stopped"] is True
    target.join(5)
    assert outcome_of == {"target": "stopped"}
    with pytest.raises(CommandError, match="not running"):
        running.stop("target", Stop)
    with pytest.raises(CommandError, match="not running"):
        running.stop("never-here", Stop)
    other.join(10)
    assert outcome_of["other"] == "finished"


def test_a_task_that_cannot_be_stopped_says_why():
    running = RunningTasks()
    running.started_unstoppable("t", "sync tasks cannot be stopped")
    with pytest.raises(CommandError, match="sync tasks"):
        running.stop("t", Stop)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_cancelled_ids_are_remembered_until_their_expiry_and_never_past_the_cap():
    clock = Clock()
    cancelled = CancelledTasks(size=100, max_ttl_s=86_400, clock=clock)
    assert not cancelled and "a" not in cancelled
    assert cancelled.add("a", 60) == 60
    assert cancelled.add("b", 10 * 86_400) == 86_400  # a service asking for longer gets the cap
    clock.now += 59
    assert "a" in cancelled and "b" in cancelled
    clock.now += 2
    assert "a" not in cancelled and "b" in cancelled
    assert len(cancelled) == 1  # an expired id is dropped when looked up
    clock.now += 86_400
    assert "b" not in cancelled and not cancelled


def test_cancelled_ids_are_bounded_the_oldest_forgotten_first_and_expired_ones_trimmed_on_add():
    clock = Clock()
    cancelled = CancelledTasks(size=3, clock=clock)
    for i in range(5):
        cancelled.add(f"t{i}", 3600)
    assert len(cancelled) == 3 and [f"t{i}" in cancelled for i in range(5)] == [False, False, True, True, True]
    cancelled.add("t2", 3600)  # cancelled again: now the newest
    cancelled.add("t5", 3600)
    assert [f"t{i}" in cancelled for i in (2, 3, 4, 5)] == [True, False, True, True]
    clock.now += 3601
    cancelled.add("fresh", 60)
    assert len(cancelled) == 1 and "fresh" in cancelled


def test_a_cancel_is_remembered_unless_the_task_already_started_here():
    running = RunningTasks()
    assert running.cancel({"taskId": "later", "forgetAfterS": 3600})["remembered"] is True
    assert running.start_thread_unless_cancelled("later") is False  # skipped: never recorded as running
    with pytest.raises(CommandError, match="not running"):
        running.stop("later", Stop)
    assert running.start_thread_unless_cancelled("now") is True
    with pytest.raises(CommandError, match="already started") as refused:
        running.cancel({"taskId": "now"})
    assert refused.value.code == "STARTED"
    running.finished("now")


def test_a_refusal_with_a_code_reports_it(listener):
    def started(args):
        raise CommandError("already started here", code="STARTED")

    listener.handlers["cancel"] = started
    raw, _ = command("cancel")
    assert listener.handle(raw) == "failed"
    assert outcome(listener)["detail"] == {"message": "already started here", "code": "STARTED"}
