"""A small Celery app for z4j's integration tests and demos.

Configured by environment so each test can isolate itself:
  Z4J_TEST_BROKER            broker URL (redis://... or amqp://...)
  Z4J_TEST_QUEUE             the queue its tasks go to
  Z4J_TEST_EVENT_EXCHANGE    Celery's event_exchange (default celeryev)
  Z4J_TEST_CONTROL_EXCHANGE  Celery's control_exchange (default celery)
  Z4J_TEST_REDIS             Redis URL for the flaky task's attempt counter
  Z4J_TEST_TASK_EVENTS       "0": task events stay off unless -E or an enable_events broadcast
  Z4J_TEST_SENT_EVENTS       "0": producers send no task-sent events (Celery's default)
  Z4J_TEST_RESULT_BACKEND    result backend URL, e.g. redis://127.0.0.1:6379/1 (default: none)
  Z4J_TEST_BROKER_TRANSPORT_OPTIONS  broker_transport_options as JSON, e.g. {"global_keyprefix": "app1:"}
  Z4J_TEST_SERIALIZER        task_serializer, and the only content the worker accepts (pickle, msgpack)
"""
import json
import os
import time

import redis
from celery import Celery

app = Celery("z4jtest", broker=os.environ.get("Z4J_TEST_BROKER", "redis://127.0.0.1:6379/0"))
queue = os.environ.get("Z4J_TEST_QUEUE", "celery")
app.conf.update(
    task_default_queue=queue,
    event_exchange=os.environ.get("Z4J_TEST_EVENT_EXCHANGE", "celeryev"),
    control_exchange=os.environ.get("Z4J_TEST_CONTROL_EXCHANGE", "celery"),
    task_send_sent_event=os.environ.get("Z4J_TEST_SENT_EVENTS", "1") != "0",
    worker_send_task_events=os.environ.get("Z4J_TEST_TASK_EVENTS", "1") != "0",
    task_serializer="json",
    accept_content=["json"],
    event_serializer="json",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_backend=os.environ.get("Z4J_TEST_RESULT_BACKEND") or None,
    broker_transport_options=json.loads(os.environ.get("Z4J_TEST_BROKER_TRANSPORT_OPTIONS") or "{}"),
)

if os.environ.get("Z4J_TEST_SERIALIZER"):
    app.conf.update(task_serializer=os.environ["Z4J_TEST_SERIALIZER"], accept_content=[os.environ["Z4J_TEST_SERIALIZER"]])

_counter = redis.Redis.from_url(os.environ.get("Z4J_TEST_REDIS", "redis://127.0.0.1:6379/0"))


@app.task(name="z4j.add")
def add(x, y):
    return x + y


@app.task(name="z4j.echo")
def echo(key, *args, **kwargs):
    """Records its call in Redis (z4j-test-echo:<key>, one entry a run), so a test can check
    what a message it did not send itself carried, and how often it ran."""
    _counter.rpush(f"z4j-test-echo:{key}", json.dumps({"args": args, "kwargs": kwargs, "types": [type(a).__name__ for a in args]}))


@app.task(name="z4j.fail")
def fail(message="boom"):
    raise ValueError(message)


@app.task(name="z4j.flaky", bind=True, max_retries=3)
def flaky(self, key, password=None):
    """Fails its first run and succeeds on the next (the attempt count lives in Redis)."""
    attempt = _counter.incr(f"z4j-test-flaky:{key}")
    if attempt == 1:
        raise self.retry(exc=RuntimeError(f"first attempt of {key} fails"), countdown=0.2)
    return f"ok after {attempt} attempts"


@app.task(name="z4j.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="z4j.limited", time_limit=1)
def limited(seconds):
    """Sleeps past its hard time limit of 1 s: the prefork pool kills the process running it."""
    time.sleep(seconds)


@app.task(name="z4j.fail_once")
def fail_once(key, password=None):
    """Fails its first run (no retry of its own) and succeeds on the next, but only with the
    original secret argument: a retry that re-sent a redacted copy would fail again."""
    attempt = _counter.incr(f"z4j-test-fail-once:{key}")
    if password != "hunter2-secret":
        raise ValueError("called without the original password")
    if attempt == 1:
        raise RuntimeError(f"first attempt of {key} fails")
    return f"ok after {attempt} attempts"


# With Z4J_AGENT_ID set (and Z4J_AGENT_SECRET), the z4j agent records each task's exact call
# when it is sent, so z4j can retry it. The service reads the lifecycle from Celery's events.
if os.environ.get("Z4J_AGENT_ID"):
    import z4j_agent.celery

    z4j_agent.celery.install(app)
