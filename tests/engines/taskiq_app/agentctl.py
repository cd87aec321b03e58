"""Sends the agent integration scenarios through a producer with the z4j agent, printing their
task ids as JSON: {succeed, fail, retry, chain: [...] (each step sent by the one before), timeLimited}."""
import asyncio
import json
import uuid

import tasks
import z4j_agent

S = {"password": "hunter2-secret"}


async def main():
    await tasks.broker.startup()
    chain = [uuid.uuid4().hex for _ in range(3)]
    await tasks.step.kicker().with_task_id(chain[0]).kiq(chain, 0, **S)
    out = {
        "succeed": (await tasks.add.kiq(2, 3, **S)).task_id,
        "fail": (await tasks.fail.kiq("boom", **S)).task_id,
        "retry": (await tasks.retried.kiq(uuid.uuid4().hex, **S)).task_id,
        "chain": chain,
        "timeLimited": (await tasks.long.kicker().with_labels(timeout=1).kiq(uuid.uuid4().hex, 30)).task_id,  # the receiver's timeout label
    }
    await tasks.broker.shutdown()
    return out


out = asyncio.run(main())
assert z4j_agent.get_agent().flush(10), z4j_agent.get_agent().stats()
print(json.dumps(out))
