"""Jobs for test_rq (imported by name by RQ)."""
import redis


def add(x, y, password=None):
    return x + y


def fail(message):
    raise ValueError(message)


def flaky(key, url):
    if redis.Redis.from_url(url).incr(f"z4j-unit-flaky:{key}") == 1:
        raise RuntimeError(f"first attempt of {key}")
    return "ok"


def spawn(queue_name):
    from rq import Queue, get_current_job

    Queue(queue_name, connection=get_current_job().connection).enqueue("rq_jobs.add", 1, 2)


def spawn_many(queue_name):
    from rq import Queue, get_current_job

    q = Queue(queue_name, connection=get_current_job().connection)
    q.enqueue_many([Queue.prepare_data("rq_jobs.add", (1, 2)), Queue.prepare_data("rq_jobs.add", (3, 4))])


def sleepy(seconds):
    import time

    for _ in range(int(seconds / 0.02)):
        time.sleep(0.02)
    return "slept"


def fail_first(key, url):
    """Fails on its first run only (no Retry): a requeue of the failed job then succeeds."""
    if redis.Redis.from_url(url).incr(f"z4j-unit-fail-first:{key}") == 1:
        raise RuntimeError(f"first run of {key}")
    return "ok"


def die():
    """Ends its work horse at once, as SIGKILL or the OOM killer would (nothing flushed after)."""
    import os

    os._exit(3)
