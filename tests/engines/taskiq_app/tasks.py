"""A small taskiq app for z4j's integration tests: taskiq-redis's ListQueueBroker on Redis
(Z4J_TEST_REDIS, default db 12), list from Z4J_TEST_QUEUE; or, with Z4J_TEST_BROKER=amqp://...,
taskiq-aio-pika on RabbitMQ with a queue of that name. Z4J_TEST_SERIALIZER=pickle,
msgpack or cbor: messages written with that taskiq serializer instead of its default JSON."""
import asyncio
import json
import os
import time

import redis.asyncio as aioredis
from taskiq import SimpleRetryMiddleware
from taskiq_redis import ListQueueBroker

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/12")
QUEUE = os.environ.get("Z4J_TEST_QUEUE", "taskiq")
BROKER_URL = os.environ.get("Z4J_TEST_BROKER", "")
if BROKER_URL.startswith("amqp"):
    from taskiq_aio_pika import AioPikaBroker, Queue

    broker = AioPikaBroker(url=BROKER_URL, task_queues=[Queue(name=QUEUE)])
else:
    broker = ListQueueBroker(url=REDIS_URL, queue_name=QUEUE)
SERIALIZER = os.environ.get("Z4J_TEST_SERIALIZER", "")
if SERIALIZER:
    from taskiq import serializers

    named = {"pickle": serializers.PickleSerializer, "msgpack": serializers.MSGPackSerializer, "cbor": serializers.CBORSerializer}
    broker = broker.with_serializer(named[SERIALIZER]())
middlewares = [SimpleRetryMiddleware(default_retry_count=3)]
# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records every task's lifecycle.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.taskiq

    middlewares.append(z4j_agent.taskiq.Z4jMiddleware())
broker = broker.with_middlewares(*middlewares)


@broker.task(task_name="count")
async def count(key: str) -> int:
    """Counts its runs in Redis, so a test can prove a message ran or never ran."""
    async with aioredis.from_url(REDIS_URL) as r:
        return await r.incr(f"z4j-test-taskiq-runs:{key}")


@broker.task(task_name="echo")
async def echo(key, *args, **kwargs) -> None:
    """Records its call in Redis (z4j-test-echo:<key>, one entry a run), so a test can check
    what a message it did not send itself carried, and how often it ran."""
    async with aioredis.from_url(REDIS_URL) as r:
        await r.rpush(f"z4j-test-echo:{key}", json.dumps({"args": args, "kwargs": kwargs, "types": [type(a).__name__ for a in args]}))


@broker.task(task_name="add")
async def add(x: int, y: int, password: str | None = None) -> int:
    return x + y


@broker.task(task_name="fail")
async def fail(message: str = "boom", password: str | None = None) -> None:
    raise ValueError(message)


@broker.task(task_name="retried", retry_on_error=True, max_retries=3)
async def retried(key: str, password: str | None = None) -> str:
    """Fails its first run; the retry middleware sends it again."""
    async with aioredis.from_url(REDIS_URL) as r:
        if await r.incr(f"z4j-test-taskiq-retried:{key}") == 1:
            raise RuntimeError(f"first attempt of {key} fails")
    return "ok"


@broker.task(task_name="step")
async def step(ids: list[str], i: int, password: str | None = None) -> int:
    """One step of a chain: sends the next (task ids chosen by the producer)."""
    if i + 1 < len(ids):
        await step.kicker().with_task_id(ids[i + 1]).kiq(ids, i + 1, password=password)
    return i


@broker.task(task_name="long")
async def long(key: str, seconds: float = 60) -> str:
    """Waits in short steps; marks its end (a cancelled run never does)."""
    end = time.time() + seconds
    while time.time() < end:
        await asyncio.sleep(0.05)
    async with aioredis.from_url(REDIS_URL) as r:
        await r.set(f"z4j-test-long-finished:{key}", 1)
    return "finished"


@broker.task(task_name="long_sync")
def long_sync(key: str, seconds: float = 60) -> str:
    """A sync task: taskiq runs it in its thread pool, where nothing can stop it."""
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.05)
    return "finished"
