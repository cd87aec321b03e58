"""Test-side Huey operations, printing JSON:
  hueyctl.py enqueue <key>   → the task id of count(key)
  hueyctl.py runs <key>      → how many times count(key) ran
  hueyctl.py send <task> '<args JSON>' '<kwargs JSON>'  → the task id (the agent, when on, flushed)
  hueyctl.py get <redis key> → its value (text) or null
"""
import json
import sys

import tasks

cmd = sys.argv[1]
if cmd == "enqueue":
    print(json.dumps(tasks.count(sys.argv[2]).id))
elif cmd == "send":
    out = getattr(tasks, sys.argv[2])(*json.loads(sys.argv[3]), **json.loads(sys.argv[4])).id
    if tasks.os.environ.get("Z4J_AGENT_ID"):
        import z4j_agent

        z4j_agent.get_agent().flush(10)
    print(json.dumps(out))
elif cmd == "get":
    v = tasks._counter.get(sys.argv[2])
    print(json.dumps(v.decode() if v is not None else None))
else:
    print(json.dumps(int(tasks._counter.get(f"z4j-test-huey-runs:{sys.argv[2]}") or 0)))
