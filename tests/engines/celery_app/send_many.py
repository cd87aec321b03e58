"""Sends many tasks at once and prints their ids as JSON:
send_many.py '<[{"name", "args", "kwargs", "queue", "priority"}] JSON>' (all but the name optional)."""
import json
import sys

from tasks import app

ids = [
    app.send_task(t["name"], args=t.get("args", []), kwargs=t.get("kwargs", {}), queue=t.get("queue"), priority=t.get("priority")).id
    for t in json.loads(sys.argv[1])
]
app.close()
print(json.dumps(ids))
