"""A small Dramatiq app for z4j's integration tests, on Redis (Z4J_TEST_REDIS, default db 10)
or, with Z4J_TEST_BROKER=amqp://..., on RabbitMQ. Actors are declared on the queue named by
Z4J_TEST_QUEUE, so each test can isolate itself."""
import json
import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/10")
QUEUE = os.environ.get("Z4J_TEST_QUEUE", "default")
BROKER_URL = os.environ.get("Z4J_TEST_BROKER", "")
if BROKER_URL.startswith("amqp"):
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=BROKER_URL)
else:
    broker = RedisBroker(url=REDIS_URL, namespace=os.environ.get("Z4J_TEST_DRAMATIQ_NAMESPACE", "dramatiq"))
broker.add_middleware(GroupCallbacks(RedisBackend(url=REDIS_URL)))
dramatiq.set_broker(broker)
_counter = redis.Redis.from_url(REDIS_URL)

# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records every message's lifecycle.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.dramatiq

    broker.add_middleware(z4j_agent.dramatiq.Z4jMiddleware())


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def count(key):
    """Counts its runs in Redis, so a test can prove a message ran or never ran."""
    _counter.incr(f"z4j-test-dq-runs:{key}")


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def flaky(key):
    """Fails its first run (straight to the dead letter queue: no retries), succeeds after."""
    if _counter.incr(f"z4j-test-dq-runs:{key}") == 1:
        raise RuntimeError(f"first attempt of {key}")


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def echo(key, *args, **kwargs):
    """Records its call in Redis (z4j-test-echo:<key>, one entry a run), so a test can check
    what a message it did not send itself carried, and how often it ran."""
    _counter.rpush(f"z4j-test-echo:{key}", json.dumps({"args": args, "kwargs": kwargs, "types": [type(a).__name__ for a in args]}))


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def add(x, y, password=None):
    return x + y


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def fail(message="boom", password=None):
    raise ValueError(message)


@dramatiq.actor(queue_name=QUEUE, max_retries=2, min_backoff=100, max_backoff=200)
def retried(key, password=None):
    """Fails its first run; Dramatiq retries it."""
    if _counter.incr(f"z4j-test-dq-retried:{key}") == 1:
        raise RuntimeError(f"first attempt of {key} fails")
    return "ok"


@dramatiq.actor(queue_name=QUEUE, max_retries=3, min_backoff=100, max_backoff=200)
def long(key, seconds=60):
    """Runs in short steps (an exception raised in its thread lands at once); marks its end.
    Retries allowed: a terminate from z4j must not be retried."""
    _counter.incr(f"z4j-test-long-runs:{key}")
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.05)
    _counter.set(f"z4j-test-long-finished:{key}", 1)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=1000)
def limited(seconds=30):
    """Runs past its time limit of 1 s in short steps: TimeLimit raises TimeLimitExceeded in its thread."""
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.05)
