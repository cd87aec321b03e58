"""Asks one worker about itself through Celery's own remote control and prints JSON:
inspect_worker.py <hostname> stats | active_queues | registered"""
import json
import sys

from tasks import app

hostname, what = sys.argv[1], sys.argv[2]
inspect = app.control.inspect([hostname], timeout=5)
if what == "registered":
    reply = inspect.registered("rate_limit", "time_limit", "soft_time_limit")
else:
    reply = getattr(inspect, what)()
app.close()
json.dump((reply or {}).get(hostname), sys.stdout, default=str)
