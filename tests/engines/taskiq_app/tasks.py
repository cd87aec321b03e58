"""A small taskiq app for z4j's integration tests, on taskiq-redis's ListQueueBroker:
Redis from Z4J_TEST_REDIS (default db 12), list from Z4J_TEST_QUEUE."""
import os

import redis.asyncio as aioredis
from taskiq_redis import ListQueueBroker

REDIS_URL = os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/12")
QUEUE = os.environ.get("Z4J_TEST_QUEUE", "taskiq")
broker = ListQueueBroker(url=REDIS_URL, queue_name=QUEUE)


@broker.task(task_name="count")
async def count(key: str) -> int:
    """Counts its runs in Redis, so a test can prove a message ran or never ran."""
    async with aioredis.from_url(REDIS_URL) as r:
        return await r.incr(f"z4j-test-taskiq-runs:{key}")
