"""Sends one task by name and prints its id: send_one.py <task name> '<args JSON>' [countdown] [queue]."""
import json
import sys

from tasks import app

name, args = sys.argv[1], json.loads(sys.argv[2])
countdown = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
queue = sys.argv[4] if len(sys.argv) > 4 else None
result = app.send_task(name, args=args, countdown=countdown, queue=queue)
app.close()
print(result.id)
