"""Test-side Dramatiq operations, printing JSON:
  dqctl.py send <actor> '<args JSON>'   → the message id (on Z4J_TEST_QUEUE)
  dqctl.py send-delayed <actor> '<args JSON>' <delay ms> → the message id (on its delay queue)
  dqctl.py runs <key>                   → how many times the actor ran for key
  dqctl.py dead                         → dead letters on Z4J_TEST_QUEUE
  dqctl.py get <redis key>              → its value (text) or null
"""
import json
import sys

import tasks

cmd = sys.argv[1]
if cmd == "send":
    actor = getattr(tasks, sys.argv[2])
    out = actor.send(*json.loads(sys.argv[3])).message_id
    if tasks.os.environ.get("Z4J_AGENT_ID"):
        import z4j_agent

        z4j_agent.get_agent().flush(10)
    print(json.dumps(out))
elif cmd == "send-delayed":
    print(json.dumps(getattr(tasks, sys.argv[2]).send_with_options(args=json.loads(sys.argv[3]), delay=int(sys.argv[4])).message_id))
elif cmd == "runs":
    print(json.dumps(int(tasks._counter.get(f"z4j-test-dq-runs:{sys.argv[2]}") or 0)))
elif cmd == "dead":
    print(json.dumps(tasks._counter.zcard(f"dramatiq:{tasks.QUEUE}.XQ")))
elif cmd == "get":
    v = tasks._counter.get(sys.argv[2])
    print(json.dumps(v.decode() if v is not None else None))
