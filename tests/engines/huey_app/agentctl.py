"""Sends the agent integration scenarios through a producer with the z4j agent, printing their
task ids as JSON: {succeed, fail, retry, chain: [...] (a pipeline), group: [...] (a chord's members), timeLimited (with --time-limited)}."""
import json
import sys
import uuid

import huey
import tasks
import z4j_agent

S = {"password": "hunter2-secret"}
pipe = tasks.add.s(1, 1, **S).then(tasks.add, 10, **S).then(tasks.add, 100, **S)
chain, step = [], pipe
while step is not None:
    chain.append(step.id)
    step = step.on_complete
tasks.huey.enqueue(pipe)
members = [tasks.add.s(i, i, **S) for i in range(3)]
tasks.huey.enqueue(huey.chord(members, tasks.total.s()))
out = {
    "succeed": tasks.add(2, 3, **S).id,
    "fail": tasks.fail("boom", **S).id,
    "retry": tasks.retried(uuid.uuid4().hex, **S).id,
    "chain": chain,
    "group": [m.id for m in members],
}
if "--time-limited" in sys.argv:  # Huey 3's process and greenlet workers stop a task at its timeout (thread workers never do)
    limited = tasks.long.s(uuid.uuid4().hex, 30, timeout=1)
    tasks.huey.enqueue(limited)
    out["timeLimited"] = limited.id
assert z4j_agent.get_agent().flush(10), z4j_agent.get_agent().stats()
print(json.dumps(out))
