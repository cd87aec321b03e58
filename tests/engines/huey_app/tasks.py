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


@huey.task()
def add(x, y, password=None):
    return x + y


@huey.task()
def fail(message="boom", password=None):
    raise ValueError(message)


@huey.task(retries=2)
def retried(key, password=None):
    """Fails its first run; Huey retries it."""
    if _counter.incr(f"z4j-test-huey-retried:{key}") == 1:
        raise RuntimeError(f"first attempt of {key} fails")
    return "ok"


# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records every task's lifecycle.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.huey

    z4j_agent.huey.install(huey)
