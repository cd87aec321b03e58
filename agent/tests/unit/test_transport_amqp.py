"""The agent's RabbitMQ events queue, on a real RabbitMQ: bounded when the agent creates it,
used as it is when it exists (RabbitMQ refuses a declaration with other arguments), with each
AMQP client a worker may have (pika and py-amqp here; aio-pika from test_taskiq.py, in taskiq's
venv)."""
import asyncio
import importlib.util
import sys
import uuid

import pytest

from test_commands_amqp import AMQP_URL, CLIENTS, _broker
from z4j_agent.amqp_connect import py_amqp_options
from z4j_agent import transport
from z4j_agent.transport import AioPikaTransport, AmqpTransport, PyAmqpTransport, make_transport

TRANSPORTS = {"pika": AmqpTransport, "aio_pika": AioPikaTransport, "py_amqp": PyAmqpTransport}
# The clients the agent publishes with (py-amqp, Celery's, is no command client: Celery's workers
# take their commands from Celery's own control).
PUBLISHERS = CLIENTS + (["py_amqp"] if importlib.util.find_spec("amqp") else [])
BATCH = b"x" * 1000


def _queue_op(op, queue, body=b""):
    """`op` ('declare-plain', 'count', 'publish' `body`, 'delete') on `queue`, with whichever
    client this venv has."""
    if "pika" in CLIENTS:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            ch = conn.channel()
            if op == "declare-plain":
                return ch.queue_declare(queue, durable=True)
            if op == "count":
                return ch.queue_declare(queue, passive=True).method.message_count
            if op == "publish":
                return ch.basic_publish("", queue, body)
            return ch.queue_delete(queue)
        finally:
            conn.close()
    import aio_pika

    async def run():
        conn = await aio_pika.connect(AMQP_URL)
        try:
            ch = await conn.channel()
            if op == "declare-plain":
                return await ch.declare_queue(queue, durable=True)
            if op == "count":
                return (await ch.declare_queue(queue, passive=True)).declaration_result.message_count
            if op == "publish":
                return await ch.default_exchange.publish(aio_pika.Message(body), routing_key=queue)
            return await ch.queue_delete(queue)
        finally:
            await conn.close()

    return asyncio.run(run())


def check_the_events_queue(client):
    """What both tests check, with the transport of `client`."""
    make = TRANSPORTS[client]
    created, existing = (f"z4j-test-events-{uuid.uuid4().hex[:8]}" for _ in range(2))
    _queue_op("declare-plain", existing)  # an earlier agent's or service's: no bound
    try:
        for queue, expected in ((created, 10), (existing, 30)):
            transport = make(AMQP_URL, "agent-1", queue, max_bytes=10_000)
            try:
                for _ in range(30):  # 30 batches of 1,000 bytes (each publish is confirmed)
                    transport.send(BATCH, "sig", 1)
            finally:
                transport.close()
            assert _queue_op("count", queue) == expected, queue
    finally:
        for queue in (created, existing):
            _queue_op("delete", queue)


@pytest.mark.parametrize("client", PUBLISHERS)
def test_the_events_queue_is_bounded_when_the_agent_creates_it(client):
    check_the_events_queue(client)


def _returned(client):
    """What the client raises for a published message the broker returned."""
    if client == "pika":
        import pika.exceptions

        return pika.exceptions.UnroutableError
    if client == "py_amqp":
        import amqp.exceptions

        return amqp.exceptions.ChannelError  # NO_ROUTE (312) has no class of its own
    import aio_pika.exceptions

    return aio_pika.exceptions.PublishError


def check_a_deleted_queue_is_declared_again(client):
    """The events queue deleted under a transport's open channel (by hand, or a node reset while
    the service is down): the broker would confirm and drop what it cannot route. The send must
    raise, so the sender keeps the batch, and the next send declare the queue again."""
    make = TRANSPORTS[client]
    queue = f"z4j-test-events-{uuid.uuid4().hex[:8]}"
    transport = make(AMQP_URL, "agent-1", queue)
    try:
        transport.send(BATCH, "sig", 1)
        _queue_op("delete", queue)
        with pytest.raises(_returned(client)):
            transport.send(BATCH, "sig", 1)
        transport.send(BATCH, "sig", 1)  # as the sender's next turn does: a new connection
        assert _queue_op("count", queue) == 1
    finally:
        transport.close()
        _queue_op("delete", queue)


@pytest.mark.parametrize("client", PUBLISHERS)
def test_a_batch_for_a_deleted_queue_raises_and_the_queue_comes_back(client):
    check_a_deleted_queue_is_declared_again(client)


def test_the_agent_publishes_with_whichever_amqp_client_the_worker_has(monkeypatch):
    """pika first (Dramatiq's RabbitmqBroker), then aio-pika (taskiq-aio-pika), then py-amqp: a
    Celery worker on RabbitMQ has only kombu's py-amqp."""
    missing = [m for m in ("pika", "amqp") if importlib.util.find_spec(m) is None]
    assert not missing, f"{missing} not installed: run this in the celery venv, which has pika and py-amqp"

    def made():
        return type(make_transport("auto", "pyamqp://guest:guest@127.0.0.1:5672//", "", "agent-1", "p", 1000, "q"))

    monkeypatch.setitem(sys.modules, "aio_pika", None)  # `import aio_pika` raises ImportError
    assert made() is AmqpTransport
    monkeypatch.setitem(sys.modules, "pika", None)
    assert made() is PyAmqpTransport
    monkeypatch.setitem(sys.modules, "amqp", None)
    with pytest.raises(ImportError, match="no AMQP client"):
        made()


@pytest.mark.parametrize("url, expected", [
    ("amqp://guest:guest@127.0.0.1:5672//", ("127.0.0.1:5672", "guest", "guest", "/", False)),
    ("amqp://localhost", ("localhost:5672", "guest", "guest", "/", False)),
    ("amqps://u%40x:p%2Fw@rabbit.example/prod%2Feu", ("rabbit.example:5671", "u@x", "p/w", "prod/eu", True)),
    ("amqp://u:p@[::1]:5673/%2F", ("[::1]:5673", "u", "p", "/", False)),
    ("amqps://u:p@h//?no_verify_ssl=1", ("h:5671", "u", "p", "/", True)),  # kombu's `//` before a query
])
def test_py_amqp_reads_a_url_as_kombu_does(url, expected):
    o = py_amqp_options(url)
    assert (o["host"], o["userid"], o["password"], o["virtual_host"], bool(o["ssl"])) == expected


def _events_in(queue):
    """The events of every batch in `queue`, taken (the batches as the agent signed them)."""
    import json

    bodies = []

    def take(c):
        kind, ch = c
        if kind == "pika":
            while (got := ch.basic_get(queue, auto_ack=True))[0] is not None:
                bodies.append(got[2])
            return None

        async def aio():
            q = await ch.declare_queue(queue, passive=True)
            while (msg := await q.get(no_ack=True, fail=False)) is not None:
                bodies.append(msg.body)

        return aio()

    _broker(take)
    return [e.get("taskId") for body in bodies for e in json.loads(body)["events"]]


@pytest.mark.parametrize("client", PUBLISHERS)
def test_along_a_failover_list_the_agent_goes_on_to_the_next_node(client, monkeypatch):
    monkeypatch.setattr(transport, "AMQP_CLIENTS", tuple(c for c in transport.AMQP_CLIENTS if c[1] is TRANSPORTS[client]))
    check_a_failover_list()


def check_a_failover_list():
    """A worker on a RabbitMQ cluster lists its nodes (kombu's `amqp://node-1//;amqp://node-2//`,
    a Dramatiq broker's list of URLs). The first node here is a proxy to the test RabbitMQ, and
    goes away mid-run as a node does in a rolling upgrade: the agent's failed send moves it on to
    the next node, and no event is lost. It used to send to the first node only, and drop."""
    from tls_proxy import start_plain
    from z4j_agent import core
    port, node_goes_away = start_plain(AMQP_URL)
    queue = f"z4j-test-events-{uuid.uuid4().hex[:8]}"
    first_node = AMQP_URL.replace("127.0.0.1:5672", f"127.0.0.1:{port}")
    assert first_node != AMQP_URL
    core.reset_agent()
    agent = core.get_agent(project="p", agent_id="agent-1", agent_secret="s", broker_url=f"{first_node};{AMQP_URL}", amqp_queue=queue, flush_interval=0.05)
    try:
        agent.task_event("dramatiq", "started", "before", fields={"name": "t"})
        assert agent.flush(10)
        node_goes_away()
        agent.task_event("dramatiq", "started", "after", fields={"name": "t"})
        assert agent.flush(20)
        assert _events_in(queue) == ["before", "after"]
        assert agent.stats()["dropped"] == 0
    finally:
        core.reset_agent()
        _queue_op("delete", queue)
