"""Test-side taskiq operations, printing JSON:
  taskiqctl.py kick <key>   → the task id of count(key), sent to Z4J_TEST_QUEUE
  taskiqctl.py runs <key>   → how many times count(key) ran
"""
import asyncio
import json
import sys

import redis.asyncio as aioredis

import tasks


async def main():
    if sys.argv[1] == "kick":
        await tasks.broker.startup()
        out = (await tasks.count.kiq(sys.argv[2])).task_id
        await tasks.broker.shutdown()
    else:
        async with aioredis.from_url(tasks.REDIS_URL) as r:
            out = int(await r.get(f"z4j-test-taskiq-runs:{sys.argv[2]}") or 0)
    print(json.dumps(out))


asyncio.run(main())
