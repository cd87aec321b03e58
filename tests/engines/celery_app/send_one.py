"""Sends one task by name and prints its id:
send_one.py <task name> '<args JSON>' [countdown] [queue] ['<kwargs JSON>']."""
import json
import sys

from tasks import app

name, args = sys.argv[1], json.loads(sys.argv[2])
countdown = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
queue = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
kwargs = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
result = app.send_task(name, args=args, kwargs=kwargs, countdown=countdown, queue=queue)
app.close()
print(result.id)
