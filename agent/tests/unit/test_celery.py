"""z4j_agent.celery: the enqueued event a publish records (Celery's own events report the rest)."""
import pytest

celery = pytest.importorskip("celery")

SECRET = "hunter2-secret"


@pytest.fixture
def app(captured):
    import z4j_agent.celery

    a = celery.Celery("unit", broker="memory://")
    a.conf.update(task_ignore_result=True)
    z4j_agent.celery.install(a)

    @a.task(name="unit.add")
    def add(x, y, password=None):
        return x + y

    a.add_ = add
    return a


def test_a_publish_records_the_exact_call_redacted_in_fields(app, captured):
    args, kwargs = [2, {"n": 1}], {"password": SECRET}
    r = app.add_.apply_async(args, kwargs, queue="q1")
    args[1]["n"], kwargs["password"] = 99, "changed after the publish"  # the event is a snapshot
    (ev,) = captured.tasks(r.id)
    assert ev["kind"] == "enqueued" and ev["engine"] == "celery"
    # The app ignores results (task_ignore_result): a retry must too.
    assert ev["payload"] == {"name": "unit.add", "args": [2, {"n": 1}], "kwargs": {"password": SECRET}, "queue": "q1", "options": {"ignore_result": True}}
    f = ev["fields"]
    assert f["args"] == [2, {"n": 1}] and f["kwargs"] == {"password": "[redacted]"} and SECRET not in str(f)
    assert f["name"] == "unit.add" and f["queue"] == "q1" and f["retries"] == 0 and f["recordedBy"] == "z4j-agent"
    assert f["rootId"] == r.id and "parentId" not in f and "eta" not in f  # None ones are left out


def test_a_tuple_call_and_an_eta(app, captured):
    import datetime

    eta = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    r = app.add_.apply_async((1, 2), eta=eta)
    ev = captured.of(r.id, "enqueued")
    assert ev["payload"]["args"] == [1, 2] and ev["payload"]["kwargs"] == {} and ev["fields"]["eta"].startswith("2030-01-01")


def test_the_payload_keeps_the_options_a_retry_must_send_again(app, captured):
    r = app.add_.apply_async((1, 2), priority=9, time_limit=10, soft_time_limit=5, queue="q1")
    assert captured.of(r.id, "enqueued")["payload"]["options"] == {"priority": 9, "time_limit": 10, "soft_time_limit": 5, "ignore_result": True}
    plain = app.add_.apply_async((1, 2), ignore_result=False)
    assert captured.of(plain.id, "enqueued")["payload"]["options"] == {}



def test_an_install_before_the_apps_configuration_publishes_to_the_broker_configured_after_it():
    """`install(app)` next to `app = Celery(...)`, then `app.config_from_object(...)`: the order
    of many projects' celery.py. The broker is read when the first task is sent, not at install."""
    import z4j_agent.celery
    from z4j_agent import core

    core.reset_agent()
    try:
        late = celery.Celery("late")
        z4j_agent.celery.install(late, agent_id="a", agent_secret="s")

        class Settings:
            broker_url = "memory://configured-later"

        late.config_from_object(Settings)
        agent = core.get_agent()
        recorded = []
        agent._enqueue = recorded.append  # kept here, not sent
        late.send_task("unit.late", (1,))
        assert agent.config.broker_url == "memory://configured-later" and len(recorded) == 1
    finally:
        core.reset_agent()
