"""A small Huey app for z4j's integration tests: RedisHuey named Z4J_TEST_QUEUE on
Z4J_TEST_REDIS (default db 13). The Huey name is what z4j calls the queue."""
import os

import redis
from huey import RedisHuey

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/13")
huey = RedisHuey(os.environ.get("Z4J_TEST_QUEUE", "z4jtest"), url=REDIS_URL)
_counter = redis.Redis.from_url(REDIS_URL)


@huey.task()
def count(key):
    """Counts its runs in Redis, so a test can prove a task ran or never ran."""
    return _counter.incr(f"z4j-test-huey-runs:{key}")
