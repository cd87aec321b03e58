"""The agent's RabbitMQ events queue, on a real RabbitMQ: bounded when the agent creates it,
used as it is when it exists (RabbitMQ refuses a declaration with other arguments), with each
AMQP client a worker may have (pika here; aio-pika from test_taskiq.py, in taskiq's venv)."""
import asyncio
import uuid

import pytest

from test_commands_amqp import AMQP_URL, CLIENTS
from z4j_agent.transport import AioPikaTransport, AmqpTransport

TRANSPORTS = {"pika": AmqpTransport, "aio_pika": AioPikaTransport}
BATCH = b"x" * 1000


def _queue_op(op, queue):
    """`op` ('declare-plain', 'count', 'delete') on `queue`, with whichever client this venv has."""
    if "pika" in CLIENTS:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            ch = conn.channel()
            if op == "declare-plain":
                return ch.queue_declare(queue, durable=True)
            if op == "count":
                return ch.queue_declare(queue, passive=True).method.message_count
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


@pytest.mark.parametrize("client", CLIENTS)
def test_the_events_queue_is_bounded_when_the_agent_creates_it(client):
    check_the_events_queue(client)


def _returned(client):
    """What the client raises for a published message the broker returned."""
    if client == "pika":
        import pika.exceptions

        return pika.exceptions.UnroutableError
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


@pytest.mark.parametrize("client", CLIENTS)
def test_a_batch_for_a_deleted_queue_raises_and_the_queue_comes_back(client):
    check_a_deleted_queue_is_declared_again(client)
