"""A small Huey app for z4j's integration tests: RedisHuey named Z4J_TEST_QUEUE on
Z4J_TEST_REDIS (default db 13). The Huey name is what z4j calls the queue. Z4J_TEST_HUEY_STORAGE
picks another of Huey's Redis storages: `priority` (PriorityRedisHuey) or `expire` (RedisExpireHuey)."""
import json
import os
import time

import redis
from huey import PriorityRedisHuey, RedisExpireHuey, RedisHuey

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/13")
_STORAGES = {"redis": RedisHuey, "priority": PriorityRedisHuey, "expire": RedisExpireHuey}
huey = _STORAGES[os.environ.get("Z4J_TEST_HUEY_STORAGE", "redis")](os.environ.get("Z4J_TEST_QUEUE", "z4jtest"), url=REDIS_URL)
_counter = redis.Redis.from_url(REDIS_URL)


@huey.task()
def count(key):
    """Counts its runs in Redis, so a test can prove a task ran or never ran."""
    return _counter.incr(f"z4j-test-huey-runs:{key}")


@huey.task()
def echo(key, *args, **kwargs):
    """Records its call in Redis (z4j-test-echo:<key>, one entry a run), so a test can check
    what a message it did not send itself carried, and how often it ran."""
    _counter.rpush(f"z4j-test-echo:{key}", json.dumps({"args": args, "kwargs": kwargs, "types": [type(a).__name__ for a in args]}))


@huey.task()
def add(x, y, password=None):
    return x + y


@huey.task()
def total(results):
    """A chord's callback: the sum of its members' results."""
    return sum(results)


@huey.task()
def fail(message="boom", password=None):
    raise ValueError(message)


@huey.task(retries=2)
def retried(key, password=None):
    """Fails its first run; Huey retries it."""
    if _counter.incr(f"z4j-test-huey-retried:{key}") == 1:
        raise RuntimeError(f"first attempt of {key} fails")
    return "ok"


@huey.task()
def fail_once(key, password=None):
    """Fails its first run for good (no Huey retries); a retry from z4j then succeeds, saying
    whether it got the original (secret) argument."""
    n = _counter.incr(f"z4j-test-fail-once:{key}")
    if n == 1:
        raise RuntimeError(f"first run of {key} fails")
    return f"ok after {n} runs, password {'intact' if password == 'hunter2-secret' else 'WRONG'}"


@huey.task()
def long(key, seconds=60):
    """Runs in short steps (an exception raised in its thread lands at once); marks its end."""
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.05)
    _counter.set(f"z4j-test-long-finished:{key}", 1)
    return "finished"


# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records every task's lifecycle.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.huey

    z4j_agent.huey.install(huey)
