"""A small arq app for z4j's integration tests: Redis from Z4J_TEST_REDIS (default db 11),
queue from Z4J_TEST_QUEUE, aborts allowed (z4j's cancel and terminate are arq aborts)."""
import asyncio
import os

from arq.connections import RedisSettings

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/11")
QUEUE = os.environ.get("Z4J_TEST_QUEUE", "arq:queue")


async def count(ctx, key):
    """Counts its runs in Redis, so a test can prove a job never ran."""
    return await ctx["redis"].incr(f"z4j-test-arq-runs:{key}")


async def sleep(ctx, seconds):
    await asyncio.sleep(seconds)
    return seconds


class WorkerSettings:
    functions = [count, sleep]
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    queue_name = QUEUE
    allow_abort_jobs = True
    poll_delay = 0.2
    max_jobs = 4
