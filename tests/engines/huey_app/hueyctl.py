"""Test-side Huey operations, printing JSON:
  hueyctl.py enqueue <key>   → the task id of count(key)
  hueyctl.py runs <key>      → how many times count(key) ran
"""
import json
import sys

import tasks

if sys.argv[1] == "enqueue":
    print(json.dumps(tasks.count(sys.argv[2]).id))
else:
    print(json.dumps(int(tasks._counter.get(f"z4j-test-huey-runs:{sys.argv[2]}") or 0)))
