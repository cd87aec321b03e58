"""Test-side RQ operations, printing JSON:
  rqctl.py enqueue <queue> <function> '<args JSON>'   → the job id
  rqctl.py job <job id>                              → {"status", "result", "worker"}
  rqctl.py runs <key>                                → how many times count(key) ran
  rqctl.py enqueue-many <queue> <function> '<[args…] JSON>' → the job ids
  rqctl.py counters <key prefix> '<[keys] JSON>'       → the counters' values
  rqctl.py enqueue-limited <queue> <function> '<args JSON>' <limit key> <concurrency> → the job id
     (RQ 3's RateLimit: past the concurrency the job waits for a slot, status rate_limited)
"""
import json
import os
import sys

import redis
from rq import Queue
from rq.job import Job

conn = redis.Redis.from_url(os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/7"))
cmd = sys.argv[1]
if cmd == "enqueue":
    queue, func, args = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    job = Queue(queue, connection=conn).enqueue(f"tasks.{func}", *args, failure_ttl=3600)
    print(json.dumps(job.id))
elif cmd == "enqueue-limited":
    from rq import RateLimit

    queue, func, args, key, concurrency = sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    job = Queue(queue, connection=conn).enqueue(f"tasks.{func}", *args, failure_ttl=3600, rate_limit=RateLimit(key, concurrency))
    print(json.dumps(job.id))
elif cmd == "enqueue-many":
    queue, func, arg_lists = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    q = Queue(queue, connection=conn)
    print(json.dumps([q.enqueue(f"tasks.{func}", *args, failure_ttl=3600).id for args in arg_lists]))
elif cmd == "counters":
    prefix, keys = sys.argv[2], json.loads(sys.argv[3])
    print(json.dumps([int(v or 0) for v in conn.mget([f"{prefix}{k}" for k in keys])]))
elif cmd == "job":
    try:
        job = Job.fetch(sys.argv[2], connection=conn)
    except Exception:
        print(json.dumps(None))
    else:
        print(json.dumps({"status": job.get_status(refresh=True), "result": job.return_value(), "worker": job.worker_name}, default=str))
elif cmd == "runs":
    print(json.dumps(int(conn.get(f"z4j-test-rq-runs:{sys.argv[2]}") or 0)))
