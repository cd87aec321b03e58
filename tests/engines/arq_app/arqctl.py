"""Test-side arq operations, printing JSON:
  arqctl.py enqueue <function> '<args JSON>' [defer seconds]  → the job id
  arqctl.py status <job id>     → {"status", "success", "result"} (result as repr)
  arqctl.py runs <key>          → how many times count(key) ran
"""
import asyncio
import json
import sys

from arq import create_pool
from arq.jobs import Job

import tasks


async def main():
    redis = await create_pool(tasks.WorkerSettings.redis_settings, default_queue_name=tasks.QUEUE)
    cmd = sys.argv[1]
    if cmd == "enqueue":
        defer = float(sys.argv[4]) if len(sys.argv) > 4 else None
        job = await redis.enqueue_job(sys.argv[2], *json.loads(sys.argv[3]), _defer_by=defer)
        out = job.job_id
    elif cmd == "status":
        job = Job(sys.argv[2], redis, _queue_name=tasks.QUEUE)
        info = await job.result_info()
        out = {"status": (await job.status()).value, "success": info.success if info else None, "result": repr(info.result) if info else None}
    else:
        out = int(await redis.get(f"z4j-test-arq-runs:{sys.argv[2]}") or 0)
    await redis.aclose()
    print(json.dumps(out))


asyncio.run(main())
