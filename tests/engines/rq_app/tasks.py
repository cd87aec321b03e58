"""A small RQ app for z4j's integration tests. Redis from Z4J_TEST_REDIS (default db 7)."""
import json
import os
import time

import redis

_counter = redis.Redis.from_url(os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/7"))


def add(x, y, password=None):
    return x + y


def fail(message="boom", password=None):
    raise ValueError(message)


def flaky(key, password=None):
    """Fails its first run and succeeds on the next (the attempt count lives in Redis)."""
    attempt = _counter.incr(f"z4j-test-rq-flaky:{key}")
    if attempt == 1:
        raise RuntimeError(f"first attempt of {key} fails")
    return f"ok after {attempt} attempts"


def count(key):
    """Counts its runs in Redis, so a test can prove a job never ran."""
    return _counter.incr(f"z4j-test-rq-runs:{key}")


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def echo(key, *args, **kwargs):
    """Records its call in Redis (z4j-test-echo:<key>, one entry a run), so a test can check
    what a job it did not enqueue itself carried, and how often it ran."""
    _counter.rpush(f"z4j-test-echo:{key}", json.dumps({"args": args, "kwargs": kwargs, "types": [type(a).__name__ for a in args]}))


# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records jobs enqueued from jobs;
# workers record lifecycles when run as `rq worker -w z4j_agent.rq.Z4jWorker`.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.rq

    z4j_agent.rq.install()
