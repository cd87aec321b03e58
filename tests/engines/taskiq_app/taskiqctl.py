"""Test-side taskiq operations, printing JSON:
  taskiqctl.py kick <key>   → the task id of count(key), sent to Z4J_TEST_QUEUE
  taskiqctl.py runs <key>   → how many times count(key) ran
  taskiqctl.py send <task> '<args JSON>' '<kwargs JSON>'  → the task id (the agent, when on, flushed)
  taskiqctl.py get <redis key> → its value (text) or null
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
    elif sys.argv[1] == "send":
        await tasks.broker.startup()
        out = (await getattr(tasks, sys.argv[2]).kiq(*json.loads(sys.argv[3]), **json.loads(sys.argv[4]))).task_id
        await tasks.broker.shutdown()
        if tasks.os.environ.get("Z4J_AGENT_ID"):
            import z4j_agent

            z4j_agent.get_agent().flush(10)
    elif sys.argv[1] == "get":
        async with aioredis.from_url(tasks.REDIS_URL) as r:
            v = await r.get(sys.argv[2])
            out = v.decode() if v is not None else None
    else:
        async with aioredis.from_url(tasks.REDIS_URL) as r:
            out = int(await r.get(f"z4j-test-taskiq-runs:{sys.argv[2]}") or 0)
    print(json.dumps(out))


asyncio.run(main())
