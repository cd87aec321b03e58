"""Test-side arq operations, printing JSON:
  arqctl.py enqueue <function> '<args JSON>' [defer seconds]  → the job id
  arqctl.py status <job id>     → {"status", "success", "result"} (result as repr)
  arqctl.py runs <key>          → how many times count(key) ran
  arqctl.py send <function> '<args JSON>' '<kwargs JSON>'  → the job id (the agent, when on, flushed)
  arqctl.py get <redis key>     → its value (text) or null
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
        # The status first: a job that ends between the two reads then shows its result with it
        # (read the other way round, it could be "complete" with no result, success None).
        status = (await job.status()).value
        info = await job.result_info()
        out = {"status": status, "success": info.success if info else None, "result": repr(info.result) if info else None}
    elif cmd == "send":
        if tasks.os.environ.get("Z4J_AGENT_ID"):
            import z4j_agent.arq

            z4j_agent.arq.instrument_pool(redis)
        job = await redis.enqueue_job(sys.argv[2], *json.loads(sys.argv[3]), **json.loads(sys.argv[4]))
        out = job.job_id
        import z4j_agent

        z4j_agent.get_agent().flush(10)
    elif cmd == "get":
        v = await redis.get(sys.argv[2])
        out = v.decode() if v is not None else None
    else:
        out = int(await redis.get(f"z4j-test-arq-runs:{sys.argv[2]}") or 0)
    await (redis.aclose() if hasattr(redis, "aclose") else redis.close(close_connection_pool=True))  # redis-py < 5.0.1: close
    print(json.dumps(out))


asyncio.run(main())
