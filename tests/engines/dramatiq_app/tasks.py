"""A small Dramatiq app for z4j's integration tests, on Redis (Z4J_TEST_REDIS, default db 10).
Actors are declared on the queue named by Z4J_TEST_QUEUE, so each test can isolate itself."""
import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/10")
QUEUE = os.environ.get("Z4J_TEST_QUEUE", "default")
broker = RedisBroker(url=REDIS_URL)
dramatiq.set_broker(broker)
_counter = redis.Redis.from_url(REDIS_URL)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def count(key):
    """Counts its runs in Redis, so a test can prove a message ran or never ran."""
    _counter.incr(f"z4j-test-dq-runs:{key}")


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def flaky(key):
    """Fails its first run (straight to the dead letter queue: no retries), succeeds after."""
    if _counter.incr(f"z4j-test-dq-runs:{key}") == 1:
        raise RuntimeError(f"first attempt of {key} fails")
