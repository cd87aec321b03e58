"""Sends the agent integration scenarios through a producer with the z4j agent, printing their
job ids as JSON: {succeed, fail, retry, chain: [...] (each step enqueued by the one before), timeLimited}."""
import asyncio
import json
import uuid

from arq import create_pool

import tasks
import z4j_agent
import z4j_agent.arq

S = {"password": "hunter2-secret"}


async def main():
    z4j_agent.arq.install(broker_url=z4j_agent.arq.redis_settings_url(tasks.WorkerSettings.redis_settings))
    redis = await create_pool(tasks.WorkerSettings.redis_settings, default_queue_name=tasks.QUEUE)
    chain = [uuid.uuid4().hex for _ in range(3)]
    await redis.enqueue_job("step", chain, 0, _job_id=chain[0], **S)
    out = {
        "succeed": (await redis.enqueue_job("add", 2, 3, **S)).job_id,
        "fail": (await redis.enqueue_job("fail", "boom", **S)).job_id,
        "retry": (await redis.enqueue_job("retried", uuid.uuid4().hex, **S)).job_id,
        "chain": chain,
        "timeLimited": (await redis.enqueue_job("sleep_limited", 30)).job_id,  # arq's job timeout: 1 s
    }
    await (redis.aclose() if hasattr(redis, "aclose") else redis.close(close_connection_pool=True))  # redis-py < 5.0.1: close
    return out


out = asyncio.run(main())
assert z4j_agent.get_agent().flush(10), z4j_agent.get_agent().stats()
print(json.dumps(out))
