"""The command channel on RabbitMQ, with each AMQP client a worker may have (pika for Dramatiq,
aio-pika for taskiq-aio-pika; this file runs in a venv with one or both): the worker's own queue,
the same checks as on Redis, acks, and a broker outage that never reaches the host."""
import asyncio
import json
import os
import time
import uuid

import pytest

from z4j_agent import amqp_commands
from z4j_agent.amqp_commands import command_queue
from z4j_agent.commands import CommandListener

from test_commands import FakeAgent, command

AMQP_URL = os.environ.get("Z4J_TEST_AMQP_URL_PIKA", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _installed(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


CLIENTS = [c for c in ("pika", "aio_pika") if _installed(c)]


@pytest.fixture(params=CLIENTS)
def client(request, monkeypatch):
    """The listener uses this client as if it were the only one installed."""
    monkeypatch.setattr(amqp_commands, "client_library", lambda: request.param)
    return request.param


def _broker(fn):
    """Runs fn(channel-like) with the client this venv has, for the test's own declare / publish / inspect."""
    if _installed("pika"):
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            return fn(("pika", conn.channel()))
        finally:
            conn.close()
    import aio_pika

    async def run():
        conn = await aio_pika.connect(AMQP_URL)
        try:
            return await fn(("aio_pika", await conn.channel()))
        finally:
            await conn.close()

    return asyncio.run(run())


def publish(queue, body):
    def pub(c):
        kind, ch = c
        if kind == "pika":
            ch.basic_publish("", queue, body.encode() if isinstance(body, str) else body)
            return None
        return ch.default_exchange.publish(__import__("aio_pika").Message(body.encode() if isinstance(body, str) else body), routing_key=queue)

    _broker(pub)


def depth(queue):
    """Messages ready in the queue (passive declare: it must exist)."""
    def check(c):
        kind, ch = c
        if kind == "pika":
            return ch.queue_declare(queue, passive=True).method.message_count

        async def aio():
            return (await ch.declare_queue(queue, passive=True)).declaration_result.message_count

        return aio()

    return _broker(check)


def delete(queue):
    _broker(lambda c: c[1].queue_delete(queue))


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_worker_queue_name_is_its_project_and_worker_or_a_digest_past_255_bytes():
    assert command_queue("unit", "dramatiq@host:12") == "z4j.commands.unit.dramatiq@host:12"
    # The service computes the same (backend/src/actions/agentCommands.test.ts has this vector).
    assert command_queue("unit", "w" * 300) == "z4j.commands.9b5a2f60eed8c30ca7febdf729e189df37d665c3452aecbff0a08640b05a98c8"


def test_commands_on_the_worker_queue_run_once_garbage_is_dropped_and_everything_is_acked(client):
    worker = f"w-{uuid.uuid4().hex[:8]}"
    queue = command_queue("unit", worker)
    calls = []
    lst = CommandListener(FakeAgent(), "huey", worker, AMQP_URL, {"echo": lambda a: calls.append(a) or {"echo": a["x"]}}, queues=["q"])
    assert lst.announcement() == {"channel": "amqp", "actions": ["echo"], "queues": ["q"]}
    stop = lst.start()
    try:
        assert wait_for(lambda: _exists(queue)), "the listener did not declare its queue"
        raw, body = command(worker=worker)
        publish(queue, "garbage")
        publish(queue, raw)
        publish(queue, raw)  # delivered twice: runs once
        other, _ = command(worker="someone-else")
        publish(queue, other)
        assert wait_for(lambda: any(e.get("commandId") == body["id"] for e in lst.agent.sent))
        assert wait_for(lambda: lst.refused == 2)
        assert [e["state"] for e in lst.agent.sent] == ["succeeded"] and calls == [{"x": 1}]
        assert wait_for(lambda: depth(queue) == 0), "a command was left unacked"
    finally:
        stop()
        lst._thread.join(5)
        delete(queue)


def test_a_command_queue_deleted_under_the_listener_is_declared_again(client):
    """The worker's queue deleted while it listens (by hand, in the management UI): the broker
    cancels the consumer and keeps the channel open. The listener must notice and declare its queue
    again, or the worker would take no command until it restarts."""
    worker = f"w-{uuid.uuid4().hex[:8]}"
    queue = command_queue("unit", worker)
    lst = CommandListener(FakeAgent(), "huey", worker, AMQP_URL, {"echo": lambda a: {"echo": a["x"]}})
    stop = lst.start()
    try:
        assert wait_for(lambda: _exists(queue)), "the listener did not declare its queue"
        delete(queue)
        assert wait_for(lambda: _exists(queue)), "the listener did not declare its deleted queue again"
        raw, body = command(worker=worker)
        publish(queue, raw)
        assert wait_for(lambda: any(e.get("commandId") == body["id"] for e in lst.agent.sent)), "the command was not taken"
    finally:
        stop()
        lst._thread.join(5)
        delete(queue)


def _exists(queue):
    try:
        depth(queue)
        return True
    except Exception:
        return False


def test_a_rabbitmq_outage_never_reaches_the_host(client):
    lst = CommandListener(FakeAgent(), "huey", "w1", "amqp://guest:guest@127.0.0.1:1/%2F", {"echo": lambda a: {}})
    assert lst.announcement()["channel"] == "amqp"
    stop = lst.start()
    time.sleep(0.5)  # connection refused, backing off, quietly
    assert lst._thread.is_alive() and lst._thread.daemon
    stop()
    lst._thread.join(5)
    assert not lst._thread.is_alive()
    raw, _ = command()
    assert lst.handle(raw) == "ran"


def test_no_amqp_channel_without_an_amqp_client(monkeypatch):
    monkeypatch.setattr(amqp_commands, "client_library", lambda: None)
    assert CommandListener(FakeAgent(), "huey", "w", AMQP_URL, {"echo": lambda a: {}}).announcement() is None


def test_a_command_body_is_checked_exactly_as_on_redis(client):
    lst = CommandListener(FakeAgent(), "huey", "w1", AMQP_URL, {"echo": lambda a: {}})
    raw, _ = command(secret="someone-else")
    assert lst.handle(raw.encode()) == "refused:bad_signature"
    raw, _ = command(expires_in=-1)
    assert lst.handle(raw.encode()) == "expired"
    assert json.loads(json.dumps(lst.agent.sent[-1]))["detail"]["code"] == "EXPIRED"


def test_along_a_failover_list_commands_come_from_the_next_node(client):
    """The first node of the worker's list (a proxy to the test RabbitMQ) goes away while the
    listener waits on it: the listener goes on to the next node, and takes the next command there."""
    from tls_proxy import start_plain

    port, node_goes_away = start_plain(AMQP_URL)
    worker = f"w-{uuid.uuid4().hex[:8]}"
    queue = command_queue("unit", worker)
    first_node = AMQP_URL.replace("127.0.0.1:5672", f"127.0.0.1:{port}")
    lst = CommandListener(FakeAgent(), "huey", worker, f"{first_node};{AMQP_URL}", {"echo": lambda a: {"echo": a["x"]}})
    stop = lst.start()
    try:
        for when in ("before", "after"):
            if when == "after":
                node_goes_away()
            assert wait_for(lambda: _exists(queue)), "the listener did not declare its queue"
            raw, body = command(worker=worker)
            publish(queue, raw)
            assert wait_for(lambda: any(e.get("commandId") == body["id"] for e in lst.agent.sent), 20), f"the command sent {when} the node went away was not taken"
    finally:
        stop()
        lst._thread.join(5)
        delete(queue)
