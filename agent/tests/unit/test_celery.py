"""z4j_agent.celery: the enqueued event a publish records (Celery's own events report the rest)."""
import signal
import traceback

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
    (ev,) = captured.tasks(r.id)
    assert ev["payload"]["args"] == [1, 2] and ev["payload"]["kwargs"] == {} and ev["fields"]["eta"].startswith("2030-01-01")


def test_the_payload_keeps_the_options_a_retry_must_send_again(app, captured):
    r = app.add_.apply_async((1, 2), priority=9, time_limit=10, soft_time_limit=5, queue="q1")
    plain = app.add_.apply_async((1, 2), ignore_result=False)
    (ev,), (plain_ev,) = captured.tasks(r.id), captured.tasks(plain.id)
    assert ev["payload"]["options"] == {"priority": 9, "time_limit": 10, "soft_time_limit": 5, "ignore_result": True}
    assert plain_ev["payload"]["options"] == {}


def test_a_process_with_two_installed_apps_records_each_send_once(app, captured):
    """Two apps in one process (a project with two, or tests): before_task_publish names no app,
    and each send was recorded once per installed app (a duplicate enqueued event, the retry
    payload sealed twice)."""
    import z4j_agent.celery

    other = celery.Celery("unit-other", broker="memory://")
    z4j_agent.celery.install(other)
    z4j_agent.celery.install(app)  # again: still once
    mine, theirs = app.add_.apply_async((1, 2)), other.send_task("other.mul", (3, 4), queue="q2")
    assert [(e["taskId"], e["kind"]) for e in captured.tasks()] == [(mine.id, "enqueued"), (theirs.id, "enqueued")]
    assert captured.of(theirs.id, "enqueued")["payload"]["queue"] == "q2"


def test_a_send_from_an_app_never_installed_is_not_recorded(app, captured):
    """A second app in the process that was never passed to install() (a library's own, another
    project's client): its sends are not z4j's to record, nor to deliver to the installed app's
    destination. before_task_publish names no app: the agent finds the app whose send_task runs."""
    stranger = celery.Celery("unit-stranger", broker="memory://")

    @stranger.task(name="stranger.mul")
    def mul(x, y):
        return x * y

    stranger.set_current()  # the current app is no clue: it is whichever was made or entered last
    theirs = [stranger.send_task("stranger.mul", (3, 4)), mul.apply_async((1, 2)), mul.s(5, 6).apply_async()]
    mine = [app.add_.apply_async((1, 2)), app.send_task("unit.add", (3, 4)), app.add_.s(5, 6).delay(),
            app.add_.apply_async((7, 8), reply_to="the-first-producer")]  # a retry's: not this app's reply_to
    app.set_current()
    theirs.append(mul.delay(9, 9))
    recorded = {e["taskId"] for e in captured.tasks()}
    assert recorded == {r.id for r in mine} and len(captured.tasks()) == len(mine) and not recorded & {r.id for r in theirs}


def test_the_only_app_of_the_process_is_the_sender_without_a_look_up_the_stack(app):
    """A retry keeps the first producer's reply_to, so its app is not found by it; where the
    process has one Celery app, that one sends, and no frame is read (tens of µs per send)."""
    import z4j_agent.celery
    from celery import _state

    every = _state._apps  # every Celery app of the process, as Celery registers them
    others = [a for a in every if a is not app]
    assert others  # the tests' apps: here the stack is read (no send runs: nothing found)
    assert z4j_agent.celery._sending_app({"reply_to": "the-first-producer"}) is None
    try:
        for a in others:
            every.discard(a)
        assert z4j_agent.celery._sending_app({"reply_to": "the-first-producer"}) is app
    finally:
        for a in others:
            every.add(a)


def test_a_send_whose_app_is_not_found_is_recorded(app, captured):
    """A publish that did not go through Celery.send_task (a library's own, through app.amqp):
    its app unknown, it is recorded, as every send was before apps were told apart."""
    import uuid

    task_id = str(uuid.uuid4())
    message = app.amqp.create_task_message(task_id, "unit.add", (1, 2), {}, reply_to="not-an-apps")
    with app.producer_or_acquire() as producer:
        app.amqp.send_task_message(producer, "unit.add", message)
    assert captured.kinds(task_id) == ["enqueued"]


def test_the_agent_publishes_to_the_broker_of_the_first_installed_app_that_has_one():
    """Which app lends its broker to an agent that has none: the first installed one that has a
    broker, whichever app sends first (the agent is one per process, and the signal names no app)."""
    import z4j_agent.celery
    from z4j_agent import core

    core.reset_agent()
    try:
        unset, first, second = celery.Celery("unset"), celery.Celery("first"), celery.Celery("second")
        unset.conf.broker_url = None
        for a in (unset, first, second):
            z4j_agent.celery.install(a, agent_id="a", agent_secret="s")
        first.conf.broker_url, second.conf.broker_url = "memory://first", "memory://second"
        agent = core.get_agent()
        recorded = []
        agent._enqueue = recorded.append  # kept here, not sent
        second.send_task("unit.second", (1,))
        assert agent.config.broker_url == "memory://first" and len(recorded) == 1
    finally:
        core.reset_agent()


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


def test_a_call_json_would_change_is_carried_with_json_and_left_out_with_pickle(app, captured):
    """With json (Celery's default) the task receives {"1": "a"} and [3, 4]: the payload is exact as
    JSON makes it. With pickle, the call's or the app's, it receives {1: "a"} and (3, 4)."""
    args = ({1: "a"}, (3, 4))
    as_json = app.add_.apply_async(args)
    assert captured.of(as_json.id, "enqueued")["payload"]["args"] == [{"1": "a"}, [3, 4]]
    pickled = app.add_.apply_async(args, serializer="pickle")
    enq = captured.of(pickled.id, "enqueued")
    assert "payload" not in enq
    assert enq["fields"]["payloadOmitted"] == "its arguments hold a dict key of type int, which JSON would turn into a string"
    import z4j_agent.celery

    pickling = celery.Celery("unit-pickle", broker="memory://")
    pickling.conf.update(task_serializer="pickle", task_ignore_result=True)
    z4j_agent.celery.install(pickling)

    @pickling.task(name="unit.mul")
    def mul(x, y):
        return x * y

    by_app = mul.apply_async(args)
    assert "payload" not in captured.of(by_app.id, "enqueued")
    plain = mul.apply_async(([1], {"k": 2}))
    assert captured.of(plain.id, "enqueued")["payload"]["args"] == [[1], {"k": 2}]  # pickle, plain: carried
    by_call = mul.apply_async(args, serializer="json")  # the call's own serializer first
    assert captured.of(by_call.id, "enqueued")["payload"]["args"] == [{"1": "a"}, [3, 4]]

    @app.task(name="unit.pickled", serializer="pickle")  # the task's own, in a json app
    def pickled_task(x, y):
        return x

    assert "payload" not in captured.of(pickled_task.apply_async(args).id, "enqueued")


def test_the_payload_names_a_serializer_other_than_json_for_the_retry_to_use(app, captured):
    """A worker accepts only its accept_content: z4j's retry must be sent in the serializer the
    task's messages use (the task's own, else the app's), which a json payload leaves unsaid."""
    import z4j_agent.celery

    assert "serializer" not in captured.of(app.add_.apply_async((1, 2)).id, "enqueued")["payload"]["options"]

    pickling = celery.Celery("unit-pickle-only", broker="memory://")
    pickling.conf.update(task_serializer="pickle", accept_content=["pickle"], task_ignore_result=True)
    z4j_agent.celery.install(pickling)

    @pickling.task(name="unit.sub")
    def sub(x, y):
        return x - y

    @pickling.task(name="unit.packed", serializer="msgpack")
    def packed(x):
        return x

    assert captured.of(sub.apply_async((5, 3)).id, "enqueued")["payload"]["options"]["serializer"] == "pickle"
    assert captured.of(packed.apply_async((1,)).id, "enqueued")["payload"]["options"]["serializer"] == "msgpack"


def test_a_tuple_within_the_args_is_carried_as_a_list_with_json_and_left_out_with_pickle(app, captured):
    """The serializer is read only for a call that holds what JSON would change: here a tuple
    alone, which a plain copy refuses when it does not know the serializer yet."""
    as_json = app.add_.apply_async(((3, 4), [5]))
    assert captured.of(as_json.id, "enqueued")["payload"]["args"] == [[3, 4], [5]]
    pickled = captured.of(app.add_.apply_async(((3, 4), [5]), serializer="pickle").id, "enqueued")
    assert "payload" not in pickled
    assert pickled["fields"]["payloadOmitted"] == "its arguments hold a tuple, which JSON would turn into a list"


def test_a_producer_on_rabbitmq_with_only_celerys_own_client_delivers_its_events():
    """A Celery app on RabbitMQ has py-amqp (kombu's) and neither pika nor aio-pika: the agent
    publishes its batches with py-amqp, to the events queue it declares, signed."""
    import hashlib
    import hmac
    import json
    import os
    import subprocess
    import sys
    import uuid

    import pika

    from test_commands_amqp import AMQP_URL

    events_queue, task_queue, secret = f"z4j-test-events-{uuid.uuid4().hex[:8]}", f"z4j-test-celery-{uuid.uuid4().hex[:8]}", "producer-secret"
    script = f"""
import sys
sys.modules["pika"] = sys.modules["aio_pika"] = None  # as in a Celery worker's venv
import celery, z4j_agent.celery
app = celery.Celery("producer", broker="amqp://guest:guest@127.0.0.1:5672//")
z4j_agent.celery.install(app)
print(app.send_task("unit.add", (1, 2), kwargs={{"password": "hunter2"}}, queue={task_queue!r}).id)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("Z4J_")}
    env.update(Z4J_AGENT_ID="agent-producer", Z4J_AGENT_SECRET=secret, Z4J_PROJECT="unit", Z4J_AMQP_QUEUE=events_queue)
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        task_id = done.stdout.strip()
        ch = conn.channel()
        method, props, body = ch.basic_get(events_queue, auto_ack=True)
        assert method is not None, f"nothing in {events_queue}: {done.stderr}"
        assert props.headers["z4j-agent"] == "agent-producer"
        assert props.headers["z4j-sig"] == hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        (ev,) = json.loads(body)["events"]
        assert (ev["taskId"], ev["kind"]) == (task_id, "enqueued") and ev["fields"]["kwargs"] == {"password": "[redacted]"}
        assert ch.queue_declare(events_queue, passive=True).method.message_count == 0  # one batch, nothing else
    finally:
        ch = conn.channel()
        ch.queue_delete(events_queue)
        ch.queue_delete(task_queue)
        conn.close()


@pytest.mark.parametrize("broker_url", ["redis://10.0.0.1:6379/0;redis://10.0.0.2:6379/0", " redis://10.0.0.1:6379/0 ; redis://10.0.0.2:6379/0",
                                        ["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"]])
def test_the_agent_takes_a_failover_list_of_brokers_whole(broker_url):
    """Celery takes a failover list of brokers (kombu's `;`-separated string, or a list): the
    agent takes it in its own form (transport.failover_urls), to send to one at a time and go on
    to the next when a send fails. It took the first alone, and dropped while it was away."""
    from z4j_agent.celery import _broker_url
    from z4j_agent.transport import failover_urls

    url = _broker_url(celery.Celery("failover", broker=broker_url))
    assert url == "redis://10.0.0.1:6379/0;redis://10.0.0.2:6379/0"
    assert failover_urls(url) == ["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"]
    assert failover_urls("amqp://h//") == ["amqp://h//"] and failover_urls("") == [""]


def test_an_app_that_reads_and_writes_apart_lends_the_agent_its_write_broker():
    from z4j_agent.celery import _broker_url

    app = celery.Celery("split", broker="redis://default:6379/0")
    app.conf.broker_read_url = "redis://replica:6379/0"
    app.conf.broker_write_url = "redis://primary:6379/0"
    assert _broker_url(app) == "redis://primary:6379/0"


def test_a_celery_app_on_tls_rabbitmq_lends_the_agent_its_broker_use_ssl(tls_rabbit):
    """kombu connects with TLS when broker_use_ssl is set, whatever the URL's scheme, and trusts
    the CA it names: the agent's URL said pyamqp:// and no more, so its connection went plain to
    a TLS port (or trusted only the system's CAs) and nothing was delivered."""
    import ssl

    from test_transport_tls import _delivered
    from z4j_agent.celery import _broker_url

    app = celery.Celery("tls", broker=f"pyamqp://guest:guest@127.0.0.1:{tls_rabbit.port}//")
    app.conf.broker_use_ssl = {"ca_certs": tls_rabbit.cafile, "certfile": tls_rabbit.certfile, "keyfile": tls_rabbit.keyfile, "cert_reqs": ssl.CERT_REQUIRED}
    with app.connection_for_write() as conn:  # the worker's own connection: these settings are right
        conn.ensure_connection(max_retries=1)
    url = _broker_url(app)
    assert url.startswith("amqps://")
    assert _delivered("pika", url) == 1 and _delivered("py_amqp", url) == 1


def test_a_celery_apps_broker_use_ssl_is_written_into_the_agents_url():
    import ssl

    from z4j_agent.celery import _broker_url

    def url(broker, use_ssl):
        app = celery.Celery("tls", broker=broker)
        app.conf.broker_use_ssl = use_ssl
        return _broker_url(app)

    assert url("redis://h:6380/0", {"ssl_ca_certs": "/ca b.pem", "ssl_cert_reqs": ssl.CERT_REQUIRED}) == "rediss://h:6380/0?ssl_ca_certs=%2Fca+b.pem&ssl_cert_reqs=required"
    assert url("redis://h:6380/0", True) == "rediss://h:6380/0"
    assert url("rediss://h:6380/0?ssl_cert_reqs=none", {"ssl_cert_reqs": ssl.CERT_REQUIRED}) == "rediss://h:6380/0?ssl_cert_reqs=none"  # the URL's own wins
    assert url("amqp://u:p@h//", {"ca_certs": "/ca.pem", "cert_reqs": ssl.CERT_NONE}) == "amqps://u:p@h//?cafile=%2Fca.pem&no_verify_ssl=1"
    assert url("amqp://u:p@h//", {"ca_certs": "/ca.pem", "cert_reqs": 0}) == "amqps://u:p@h//?cafile=%2Fca.pem&no_verify_ssl=1"
    assert url("amqp://u:p@h//", None) == "amqp://u:p@h//"
    # A failover list (kombu's `;` string, or a list): every node, each with the TLS settings.
    assert url("amqp://u:p@n1//;amqp://u:p@n2//", None) == "amqp://u:p@n1//;amqp://u:p@n2//"
    assert url(["amqp://u:p@n1//", "amqp://u:p@n2//"], {"ca_certs": "/ca.pem"}) == "amqps://u:p@n1//?cafile=%2Fca.pem;amqps://u:p@n2//?cafile=%2Fca.pem"


def test_a_celery_app_on_tls_redis_lends_the_agent_its_broker_use_ssl(tls_redis):
    """kombu's Redis takes TLS from broker_use_ssl, on a redis:// URL too."""
    import ssl

    from test_agent import _stream_delivered
    from z4j_agent.celery import _broker_url

    app = celery.Celery("tls", broker=tls_redis.url().replace("rediss://", "redis://"))
    app.conf.broker_use_ssl = {"ssl_ca_certs": tls_redis.cafile, "ssl_certfile": tls_redis.certfile, "ssl_keyfile": tls_redis.keyfile,
                               "ssl_cert_reqs": ssl.CERT_REQUIRED}
    with app.connection_for_write() as conn:  # the worker's own connection: these settings are right
        conn.ensure_connection(max_retries=1)
    assert _stream_delivered(_broker_url(app)) == 1


def test_a_celery_app_on_sentinel_lends_the_agent_its_sentinels_and_master(sentinel_group):
    """kombu's sentinel:// list, master_name in the transport options: the agent's URL asks the
    same sentinels for the same master (redis+sentinel://), through a real Sentinel."""
    from sentinel_group import SERVICE
    from z4j_agent.celery import _broker_url

    # A second sentinel that is down: kombu and the agent both go on to the next.
    app = celery.Celery("sentinel", broker=f"sentinel://127.0.0.1:1/0;sentinel://127.0.0.1:{sentinel_group.sentinel_port}/0")
    app.conf.broker_transport_options = {"master_name": SERVICE}
    with app.connection_for_write() as conn:  # the worker's own connection: these settings are right
        conn.default_channel.client.ping()
    url = _broker_url(app)
    assert url == f"redis+sentinel://127.0.0.1:1,127.0.0.1:{sentinel_group.sentinel_port}/{SERVICE}/0"
    assert sentinel_group.delivered(url) == 1


def test_a_celery_sentinel_broker_without_master_name_or_unreadable_gives_the_agent_no_broker(caplog):
    from z4j_agent.celery import _broker_url

    app = celery.Celery("sentinel", broker="sentinel://127.0.0.1:26379")
    with caplog.at_level("WARNING", logger="z4j_agent"):
        assert _broker_url(app) == ""
    assert "no master_name in broker_transport_options" in caplog.text
    app = celery.Celery("sentinel", broker="sentinel://127.0.0.1:port/0")
    app.conf.broker_transport_options = {"master_name": "m"}
    with caplog.at_level("WARNING", logger="z4j_agent"):
        assert _broker_url(app) == ""
    assert "Sentinel URLs cannot be read" in caplog.text


def test_a_celery_sentinel_broker_passes_its_credentials_and_tls_on():
    from z4j_agent.celery import _broker_url
    from z4j_agent.redis_sentinel import parse

    app = celery.Celery("sentinel", broker=["sentinel://:master%20pw@s1:26379/4", "sentinel://:master%20pw@s2:26380/4"])
    app.conf.broker_transport_options = {"master_name": "m", "sentinel_kwargs": {"password": "watch", "ssl": True}}
    app.conf.broker_use_ssl = {"ssl_ca_certs": "/ca.pem"}
    target = parse(_broker_url(app))
    assert (target.sentinels, target.service, target.db, target.password) == ([("s1", 26379), ("s2", 26380)], "m", 4, "master pw")
    assert (target.sentinel_password, target.tls, target.sentinel_tls) == ("watch", {"ssl_ca_certs": "/ca.pem"}, True)


class _Dispatcher:
    enabled = True

    def __init__(self, fails=False):
        self.flushed, self.fails = [], fails

    def flush(self, errors=True, groups=True):
        self.flushed.append((errors, groups))
        if self.fails:
            raise ConnectionError("broker gone")


class _Consumer:  # the worker's Consumer: what worker_ready sends
    def __init__(self, app, pool):
        self.app, self.pool, self.event_dispatcher = app, pool, _Dispatcher()




def test_a_solo_workers_task_events_are_sent_as_its_task_begins(app):
    """A solo worker runs the task in its event loop's thread, and Celery buffers task events for
    that loop: received and started left only once the task ended. The agent sends the buffer
    as the task begins (seen with a real worker: backend/test/celery.pools.integration.test.ts)."""
    from celery.concurrency.prefork import TaskPool as Prefork
    from celery.concurrency.solo import TaskPool as Solo
    from celery.signals import task_prerun, worker_process_init, worker_ready

    import z4j_agent.celery as agent_celery

    solo = _Consumer(app, Solo.__new__(Solo))
    assert _receives(task_prerun, agent_celery._send_buffered_task_events)  # until the worker tells its pool
    try:
        worker_ready.send(sender=solo)
        task_prerun.send(sender=app.add_, task_id="t1", task=app.add_)
        assert solo.event_dispatcher.flushed == [(False, True)]  # the task group's buffer only

        solo.event_dispatcher = _Dispatcher(fails=True)  # a new connection's, whose broker is gone
        task_prerun.send(sender=app.add_, task_id="t2", task=app.add_)  # nothing raised into the task
        assert solo.event_dispatcher.flushed == [(False, True)]

        prefork = _Consumer(app, Prefork.__new__(Prefork))  # its loop flushes while tasks run elsewhere
        worker_ready.send(sender=prefork)
        task_prerun.send(sender=app.add_, task_id="t3", task=app.add_)
        assert prefork.event_dispatcher.flushed == [] and len(solo.event_dispatcher.flushed) == 1
        # and its tasks pay for no receiver (Celery sends task_prerun only while it has some)
        assert not _receives(task_prerun, agent_celery._send_buffered_task_events)
        worker_ready.send(sender=solo)  # (one process is one worker: this only shows the way back)
        assert _receives(task_prerun, agent_celery._send_buffered_task_events)
        worker_process_init.send(sender=None)  # a prefork child, as it starts
        assert not _receives(task_prerun, agent_celery._send_buffered_task_events)
        worker_ready.send(sender=solo)

        stranger = _Consumer(celery.Celery("never-installed", broker="memory://"), Solo.__new__(Solo))
        worker_ready.send(sender=stranger)
        task_prerun.send(sender=app.add_, task_id="t4", task=app.add_)
        assert stranger.event_dispatcher.flushed == []
    finally:
        agent_celery._solo_consumer = None
        task_prerun.connect(agent_celery._send_buffered_task_events, weak=False)  # as install left it


def _receives(signal, receiver):
    return any(r is receiver for _, r in signal.receivers)


def test_a_soft_time_limit_that_lands_in_the_publish_receiver_still_reaches_the_task(app, captured, monkeypatch):
    """A prefork child's soft time limit is SIGUSR1, whose handler raises SoftTimeLimitExceeded
    where the task is. Landing in the agent's before_task_publish receiver, while the task sends
    another, it was dropped by Celery's Signal.send (which logs what a receiver raises): the task
    ran on to its hard limit. Now the signal comes again once the receiver returned."""
    import threading

    from billiard.pool import soft_timeout_sighandler
    from celery.exceptions import SoftTimeLimitExceeded

    import z4j_agent.celery as agent_celery

    payload = agent_celery._payload

    def payload_read_when_the_limit_comes(*args):
        threading.Timer(0.05, signal.pthread_kill, (threading.main_thread().ident, signal.SIGUSR1)).start()  # to the thread that waits
        threading.Event().wait(5)  # the receiver is here when the signal lands
        return payload(*args)

    monkeypatch.setattr(agent_celery, "_payload", payload_read_when_the_limit_comes)
    before = signal.signal(signal.SIGUSR1, soft_timeout_sighandler)
    try:
        # Celery drops what the receiver raised; the signal comes again 5 ms after it returned, and
        # lands wherever the task is then: still in apply_async (the rest of send_task is slower than
        # that on a loaded machine), or in what the task does next.
        with pytest.raises(SoftTimeLimitExceeded) as raised:
            app.add_.apply_async((1, 2))
            threading.Event().wait(5)
        assert not [f for f in traceback.extract_tb(raised.tb) if f.filename == agent_celery.__file__]
    finally:
        signal.signal(signal.SIGUSR1, before)
