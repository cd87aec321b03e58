"""Sends the agent integration scenarios through a producer with the z4j agent, printing their
job ids as JSON: {succeed, fail, retry, chain: [...], timeLimited}. Queue from Z4J_TEST_QUEUE."""
import json
import os
import uuid

import redis
from rq import Queue, Retry

import z4j_agent
import z4j_agent.rq

SECRET = {"password": "hunter2-secret"}
conn = redis.Redis.from_url(os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/1"))
z4j_agent.rq.install(broker_url=os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/1"))
q = Queue(os.environ["Z4J_TEST_QUEUE"], connection=conn)
a = q.enqueue("tasks.add", 1, 1, **SECRET)
b = q.enqueue("tasks.add", 2, 2, depends_on=a, **SECRET)
c = q.enqueue("tasks.add", 3, 3, depends_on=b, **SECRET)
out = {
    "succeed": q.enqueue("tasks.add", 2, 3, **SECRET).id,
    "fail": q.enqueue("tasks.fail", "boom", failure_ttl=3600, **SECRET).id,
    "retry": q.enqueue("tasks.flaky", uuid.uuid4().hex, retry=Retry(max=2), **SECRET).id,
    "chain": [a.id, b.id, c.id],
    "timeLimited": q.enqueue("tasks.sleep", 30, job_timeout=1, failure_ttl=3600).id,  # the work horse's death penalty at 1 s
}
assert z4j_agent.get_agent().flush(10), z4j_agent.get_agent().stats()
print(json.dumps(out))
