"""A small arq app for z4j's integration tests: Redis from Z4J_TEST_REDIS (default db 11),
queue from Z4J_TEST_QUEUE, aborts allowed (z4j's cancel and terminate are arq aborts)."""
import asyncio
import json
import os

from arq import func
from arq.connections import RedisSettings
from arq.worker import Retry

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/11")
QUEUE = os.environ.get("Z4J_TEST_QUEUE", "arq:queue")


async def count(ctx, key):
    """Counts its runs in Redis, so a test can prove a job never ran."""
    return await ctx["redis"].incr(f"z4j-test-arq-runs:{key}")


async def sleep(ctx, seconds):
    await asyncio.sleep(seconds)
    return seconds


async def echo(ctx, key, *args, **kwargs):
    """Records its call in Redis (z4j-test-echo:<key>, one entry a run), so a test can check
    what a message it did not send itself carried, and how often it ran."""
    await ctx["redis"].rpush(f"z4j-test-echo:{key}", json.dumps({"args": args, "kwargs": kwargs, "types": [type(a).__name__ for a in args]}))


async def add(ctx, x, y, password=None):
    return x + y


async def fail(ctx, message="boom", password=None):
    raise ValueError(message)


async def retried(ctx, key, password=None):
    """Asks arq to retry its first run."""
    if await ctx["redis"].incr(f"z4j-test-arq-retried:{key}") == 1:
        try:
            raise RuntimeError(f"first attempt of {key} fails")
        except RuntimeError as err:
            raise Retry(defer=0.1) from err
    return "ok"


async def step(ctx, ids, i, password=None):
    """One step of a chain: enqueues the next (job ids chosen by the producer)."""
    if i + 1 < len(ids):
        await ctx["redis"].enqueue_job("step", ids, i + 1, password=password, _job_id=ids[i + 1], _queue_name=QUEUE)
    return i


async def fail_once(ctx, key, password=None):
    """Fails its first run for good; a retry from z4j then succeeds, saying whether it got the
    original (secret) argument."""
    n = await ctx["redis"].incr(f"z4j-test-fail-once:{key}")
    if n == 1:
        raise RuntimeError(f"first run of {key} fails")
    return f"ok after {n} runs, password {'intact' if password == 'hunter2-secret' else 'WRONG'}"


class WorkerSettings:
    functions = [count, sleep, echo, add, fail, retried, step, fail_once, func(sleep, name="sleep_limited", timeout=1)]
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    queue_name = QUEUE
    allow_abort_jobs = True
    poll_delay = 0.2
    max_jobs = 4


# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records every job's lifecycle.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.arq

    z4j_agent.arq.instrument(WorkerSettings)
