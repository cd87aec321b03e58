"""Sends the agent integration scenarios through a producer with the z4j agent, printing their
message ids as JSON: {succeed, fail, retry, chain: [...] (a pipeline), group: [...], timeLimited}."""
import json
import uuid

from dramatiq import group, pipeline

import tasks
import z4j_agent

S = {"password": "hunter2-secret"}
pipe = pipeline([tasks.add.message(1, 1, **S), tasks.add.message(10, **S), tasks.add.message(100, **S)]).run()
members = group([tasks.add.message(i, i, **S) for i in range(3)])
members.add_completion_callback(tasks.add.message(0, 0, **S))
members.run()
out = {
    "succeed": tasks.add.send(2, 3, **S).message_id,
    "fail": tasks.fail.send("boom", **S).message_id,
    "retry": tasks.retried.send(uuid.uuid4().hex, **S).message_id,
    "chain": [m.message_id for m in pipe.messages],
    "group": [m.message_id for m in members.children],
    "timeLimited": tasks.limited.send(30).message_id,  # TimeLimit checks each second: stopped within 1-2 s
}
assert z4j_agent.get_agent().flush(10), z4j_agent.get_agent().stats()
print(json.dumps(out))
