"""z4j_agent.taskiq with taskiq's InMemoryBroker (tasks run in this process)."""
import asyncio
import contextlib
import json

import pytest

taskiq = pytest.importorskip("taskiq")
from importlib.metadata import version  # noqa: E402

from taskiq import InMemoryBroker as _InMemoryBroker, SimpleRetryMiddleware  # noqa: E402
from taskiq.abc.middleware import TaskiqMiddleware  # noqa: E402

from z4j_agent._common import version_tuple  # noqa: E402

# taskiq's InMemoryBroker runs its middlewares' startup and shutdown from 0.13 (a worker's broker,
# through AsyncBroker.startup, always did); the floor run's taskiq is older.
_IN_MEMORY_SKIPS_MIDDLEWARES = version_tuple(version("taskiq")) < (0, 13)


class InMemoryBroker(_InMemoryBroker):
    """taskiq's, running its middlewares' startup and shutdown on every taskiq version."""

    async def _middlewares(self, hook):
        for mw in self.middlewares:
            if getattr(type(mw), hook) is not getattr(TaskiqMiddleware, hook):
                done = getattr(mw, hook)()
                if asyncio.iscoroutine(done):
                    await done

    async def startup(self):
        await super().startup()
        if _IN_MEMORY_SKIPS_MIDDLEWARES:
            await self._middlewares("startup")

    async def shutdown(self):
        await super().shutdown()
        if _IN_MEMORY_SKIPS_MIDDLEWARES:
            await self._middlewares("shutdown")


from z4j_agent.taskiq import Z4jMiddleware  # noqa: E402

SECRET = "hunter2-secret"


def make_broker():
    broker = InMemoryBroker().with_middlewares(SimpleRetryMiddleware(default_retry_count=3), Z4jMiddleware())
    runs = {}

    @broker.task(task_name="add")
    async def add(x, y, password=None):
        return x + y

    @broker.task(task_name="fail")
    async def fail(message):
        raise ValueError(message)

    @broker.task(task_name="flaky", retry_on_error=True, max_retries=3)
    async def flaky(key):
        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            raise RuntimeError(f"first attempt of {key}")
        return "ok"

    @broker.task(task_name="spawn", tag="blue")
    async def spawn():
        return (await add.kiq(1, 2)).task_id

    return broker, {"add": add, "fail": fail, "flaky": flaky, "spawn": spawn}


def run(coro_fn):
    async def main():
        broker, t = make_broker()
        broker.is_worker_process = True  # the in-memory broker is producer and worker at once
        await broker.startup()
        try:
            out = await coro_fn(t)
            await broker.wait_all()
            await asyncio.sleep(0.05)
            return out
        finally:
            await broker.shutdown()

    return asyncio.run(main())


def test_success_failure(captured):
    async def go(t):
        return (await t["add"].kiq(2, 3, password=SECRET)).task_id, (await t["fail"].kiq("boom")).task_id

    ok, bad = run(go)
    assert captured.kinds(ok) == ["enqueued", "started", "succeeded"]
    enq = captured.of(ok, "enqueued")
    assert enq["payload"] == {"name": "add", "args": [2, 3], "kwargs": {"password": SECRET}, "queue": None, "options": {"labels": {}}}
    assert enq["fields"]["kwargs"] == {"password": "[redacted]"}
    assert "payload" not in captured.of(ok, "started")  # the producer's agent has it (the message says so)
    assert captured.of(ok, "succeeded")["fields"]["result"] == 5
    f = captured.of(bad, "failed")["fields"]
    assert f["exception"] == "ValueError: boom" and "Traceback" in f["traceback"]


def test_the_worker_copies_the_payload_when_the_producer_has_no_agent(captured):
    from z4j_agent import core

    async def go(t):
        agent = core.get_agent()
        agent.enabled = False  # the producer: no agent
        try:
            return (await t["add"].kiq(2, 3)).task_id
        finally:
            agent.enabled = True

    tid = run(go)
    assert captured.kinds(tid)[0] == "started"
    assert captured.of(tid, "started")["payload"]["args"] == [2, 3]


def test_retry_by_the_retry_middleware(captured):
    async def go(t):
        return (await t["flaky"].kiq("k")).task_id

    tid = run(go)
    evs = [(e["kind"], e["fields"]["retries"]) for e in captured if e.get("taskId") == tid]
    assert ("retried", 0) in evs and ("started", 1) in evs and evs[-1] == ("succeeded", 1)
    assert "failed" not in [k for k, _ in evs]
    assert captured.of(tid, "retried")["fields"]["labels"] == {"retry_on_error": True, "max_retries": 3}


def test_a_task_sent_by_a_task_is_its_child_and_labels_travel(captured):
    async def go(t):
        return (await t["spawn"].kiq()).task_id

    parent = run(go)
    child = captured.of(parent, "succeeded")["fields"]["result"]
    f = captured.of(child, "enqueued")["fields"]
    assert f["parentId"] == parent and f["rootId"] == parent
    assert captured.of(parent, "started")["fields"]["labels"] == {"tag": "blue"}
    assert captured.workers("worker-online") and captured.workers("worker-offline")


@contextlib.asynccontextmanager
async def gated_worker(broker, deliveries):
    """A worker of the in-memory `broker` whose listen() yields `deliveries`, the agent's gate on
    it as at startup when the worker takes commands (this broker has no channel); gives the
    agent's middleware."""

    async def listen():  # the broker's own stream of deliveries
        for d in deliveries:
            yield d

    broker.listen = listen
    broker.is_worker_process = True
    await broker.startup()
    try:
        agent_mw = next(m for m in broker.middlewares if isinstance(m, Z4jMiddleware))
        agent_mw._gate_listen()
        yield agent_mw
    finally:
        await broker.shutdown()


def test_a_task_cancelled_before_it_runs_never_leaves_the_broker_it_is_acked_and_reported_revoked(captured):
    from taskiq.abc.broker import AckableMessage
    from taskiq.message import TaskiqMessage

    acked = []

    async def main():
        broker, _ = make_broker()
        deliveries = []
        for task_id in ("keep-1", "gone", "keep-2"):
            raw = broker.formatter.dumps(TaskiqMessage(task_id=task_id, task_name="add", labels={}, labels_types={}, args=[1, 2], kwargs={})).message

            async def ack(task_id=task_id):
                acked.append(task_id)

            deliveries.append(AckableMessage(data=raw, ack=ack))
        deliveries.append(b"not a taskiq message")
        async with gated_worker(broker, deliveries) as agent_mw:
            agent_mw._gate_listen()  # idempotent: gated once
            agent_mw._running_tasks.cancel({"taskId": "gone"})
            return [d if isinstance(d, bytes) else broker.formatter.loads(d.data).task_id async for d in broker.listen()]

    seen = asyncio.run(main())
    assert seen == ["keep-1", "keep-2", b"not a taskiq message"]
    assert acked == ["gone"]
    revoked = captured.of("gone", "revoked")
    assert revoked["fields"]["reason"] == "cancelled from z4j" and revoked["fields"]["name"] == "add"


def test_a_cancel_of_a_message_the_receiver_already_took_is_refused_not_promised(captured):
    """taskiq's receiver takes messages ahead of its runners (taskiq before 0.12.5 always one more,
    even with every runner busy): past the gate, such a message will run. A cancel of it is refused
    saying so (code STARTED, as for a task already running), never "remembered" for a skip that
    cannot come; a message still in the broker is remembered and skipped; once the receiver starts
    a message it is no longer one it holds."""
    from taskiq.message import TaskiqMessage

    from z4j_agent.commands import CommandError

    async def main():
        broker, _ = make_broker()
        raw = [broker.formatter.dumps(TaskiqMessage(task_id=task_id, task_name="add", labels={}, labels_types={}, args=[1, 2], kwargs={})).message
               for task_id in ("taken", "waiting")]
        async with gated_worker(broker, raw) as agent_mw:
            deliveries = broker.listen()
            first = await anext(deliveries)  # the receiver took "taken"; "waiting" is still in the broker
            with pytest.raises(CommandError) as refused:
                agent_mw._cancel({"taskId": "taken"})
            assert refused.value.code == "STARTED" and "already taken by this worker's taskiq receiver, which will run it" in str(refused.value)
            assert agent_mw._cancel({"taskId": "waiting"})["remembered"] is True
            rest = [d async for d in deliveries]
            agent_mw.pre_execute(broker.formatter.loads(first))  # the receiver starts "taken", and it ends
            agent_mw._running_tasks.finished("taken")
            return first, rest, agent_mw._taken("taken")

    first, rest, taken_after_its_start = asyncio.run(main())
    assert json.loads(first)["task_id"] == "taken" and rest == [] and taken_after_its_start is None
    assert captured.of("waiting", "revoked")["fields"]["reason"] == "cancelled from z4j"


def test_the_receiver_holds_a_message_until_that_very_task_starts_whatever_the_order(captured):
    """What the receiver holds is told by task ids, not by order: it may start its messages out of
    the order it took them (a middleware's pre_execute that awaits), never start some (an unknown
    task), and take a task's retry under the same id as the attempt that already ran."""
    from taskiq.message import TaskiqMessage

    async def main():
        broker, _ = make_broker()

        def raw(task_id, name="add"):
            return broker.formatter.dumps(TaskiqMessage(task_id=task_id, task_name=name, labels={}, labels_types={}, args=[1, 2], kwargs={})).message

        async with gated_worker(broker, [raw("never", "no-such-task"), raw("first"), raw("second"), raw("again"), raw("again")]) as agent_mw:
            handed = [d async for d in broker.listen()]

            def start_and_end(delivery):
                message = broker.formatter.loads(delivery)
                agent_mw.pre_execute(message)
                agent_mw._running_tasks.finished(message.task_id)

            start_and_end(handed[2])  # "second" starts first; "never" never starts
            start_and_end(handed[3])  # the first attempt of "again"; its retry is held
            return {task_id: agent_mw._taken(task_id) is not None for task_id in ("never", "first", "second", "again", "elsewhere")}

    assert asyncio.run(main()) == {"never": True, "first": True, "second": False, "again": True, "elsewhere": False}


def test_an_outcome_reuses_its_start_fields_only_while_the_labels_are_the_agents(captured):
    """A task without user labels reports its start through own_event and its outcome with the
    start's fields (links included); one whose labels are the user's gets them at its outcome too."""
    async def go(t):
        return (await t["spawn"].kiq()).task_id

    parent = run(go)
    child = captured.of(parent, "succeeded")["fields"]["result"]
    start, done = captured.of(child, "started")["fields"], captured.of(child, "succeeded")["fields"]
    assert start == {"name": "add", "retries": 0, "parentId": parent, "rootId": parent}
    assert done["result"] == 3 and done["runtime"] >= 0
    assert {k: v for k, v in done.items() if k not in ("result", "runtime")} == start
    assert captured.of(parent, "succeeded")["fields"]["labels"] == {"tag": "blue"}


def test_the_aio_pika_events_queue_is_bounded_when_the_agent_creates_it():
    # taskiq-aio-pika's workers have aio-pika, not pika: the agent publishes through it (the rest of
    # the agent's tests run where pika is).
    from test_transport_amqp import check_the_events_queue

    check_the_events_queue("aio_pika")


def test_an_aio_pika_batch_for_a_deleted_events_queue_raises_and_the_queue_comes_back():
    from test_transport_amqp import check_a_deleted_queue_is_declared_again

    check_a_deleted_queue_is_declared_again("aio_pika")


def test_along_a_failover_list_an_aio_pika_agent_goes_on_to_the_next_node():
    from test_transport_amqp import check_a_failover_list

    check_a_failover_list()  # aio-pika is this venv's only AMQP client


@pytest.mark.parametrize("agent_first", [True, False], ids=["agent-before-retry-middleware", "agent-after-retry-middleware"])
def test_a_terminated_task_is_not_retried_whichever_order_the_middlewares_are_in(captured, agent_first):
    """taskiq calls on_error in reverse middleware order, so the agent cannot count on seeing a
    terminated task's error before a retry middleware does: the terminate itself turns retries off."""
    runs = []

    async def main():
        agent_mw, retry_mw = Z4jMiddleware(), SimpleRetryMiddleware(default_retry_count=3)
        broker = InMemoryBroker().with_middlewares(*((agent_mw, retry_mw) if agent_first else (retry_mw, agent_mw)))

        @broker.task(task_name="slow", retry_on_error=True, max_retries=3)
        async def slow(key):
            runs.append(key)
            await asyncio.sleep(5)

        broker.is_worker_process = True
        await broker.startup()
        try:
            task_id = (await slow.kiq("k")).task_id
            while not runs:
                await asyncio.sleep(0.01)
            out = await asyncio.to_thread(agent_mw._terminate, {"taskId": task_id})
            await broker.wait_all()
            await asyncio.sleep(0.1)
            return task_id, out
        finally:
            await broker.shutdown()

    task_id, out = asyncio.run(main())
    assert out["stopped"] is True
    assert runs == ["k"]  # never sent again by the retry middleware
    assert captured.kinds(task_id)[-1] == "revoked" and "retried" not in captured.kinds(task_id)


def test_a_task_requeued_by_itself_runs_as_the_next_attempt_and_no_result_is_not_a_failure(captured):
    """Context.requeue sends the message again under its id and raises NoResultError; a task
    may raise NoResultError itself to store no result. Neither is a failure."""
    from taskiq import Context, TaskiqDepends
    from taskiq.exceptions import NoResultError

    runs = []

    async def main():
        broker = InMemoryBroker().with_middlewares(Z4jMiddleware())

        @broker.task(task_name="requeue_once")
        async def requeue_once(context: Context = TaskiqDepends()):
            runs.append(1)
            if len(runs) == 1:
                await context.requeue()
            return "done"

        @broker.task(task_name="no_result")
        async def no_result():
            raise NoResultError()

        broker.is_worker_process = True
        await broker.startup()
        try:
            ids = [(await requeue_once.kiq()).task_id, (await no_result.kiq()).task_id]
            await broker.wait_all()
            await asyncio.sleep(0.1)
            return ids
        finally:
            await broker.shutdown()

    requeued, skipped = asyncio.run(main())
    assert len(runs) == 2
    # (The in-memory broker runs the requeued message inline, inside the first run: order by attempt.)
    evs = sorted((e["fields"]["retries"], e["kind"]) for e in captured.tasks(requeued))
    assert evs == [(0, "enqueued"), (0, "retried"), (0, "started"), (1, "started"), (1, "succeeded")]
    assert captured.of(requeued, "retried")["fields"]["reason"] == "requeued by the task (Context.requeue)"
    assert "labels" not in captured.of(requeued, "started")["fields"]  # the requeue count is the agent's to read, not a user label
    assert captured.kinds(skipped) == ["enqueued", "started", "succeeded"]


def test_a_retry_scheduled_through_a_schedule_source_is_reported_retried(captured):
    """SmartRetryMiddleware with a schedule source schedules the retry (schedule_by_time, no
    middleware runs): the failed run is still a retry, not a failure."""
    from taskiq import ScheduleSource
    from taskiq.middlewares import SmartRetryMiddleware

    class Source(ScheduleSource):
        def __init__(self):
            self.added = []

        async def get_schedules(self):
            return []

        async def add_schedule(self, schedule):
            self.added.append(schedule)

    source = Source()

    async def main():
        broker = InMemoryBroker().with_middlewares(SmartRetryMiddleware(default_retry_count=3, schedule_source=source), Z4jMiddleware())

        @broker.task(task_name="fails_once", retry_on_error=True)
        async def fails_once():
            raise RuntimeError("first attempt")

        broker.is_worker_process = True
        await broker.startup()
        try:
            task_id = (await fails_once.kiq()).task_id
            await broker.wait_all()
            await asyncio.sleep(0.05)
            return task_id
        finally:
            await broker.shutdown()

    task_id = asyncio.run(main())
    assert [s.task_id for s in source.added] == [task_id]  # what the scheduler sends later, as attempt 1
    assert captured.kinds(task_id) == ["enqueued", "started", "retried"]


def test_a_delayed_send_is_enqueued_with_its_eta(captured):
    import datetime

    async def go(t):
        return (await t["add"].kicker().with_labels(delay=600).kiq(1, 2)).task_id

    tid = run(go)
    eta = datetime.datetime.fromisoformat(captured.of(tid, "enqueued")["fields"]["eta"])
    assert abs((eta - datetime.datetime.now(datetime.timezone.utc)).total_seconds() - 600) < 30


def test_the_retry_payload_keeps_the_labels_types(captured):
    """taskiq sends labels as text with their types; z4j's retry sends the payload's labels and
    labels_types (backend taskiqMessage), which the worker parses back to the original values."""
    from taskiq.message import TaskiqMessage

    async def go(t):
        return (await t["add"].kicker().with_labels(flag=False, n=3).kiq(1, 2)).task_id

    tid = run(go)
    options = captured.of(tid, "enqueued")["payload"]["options"]
    retried = TaskiqMessage(task_id="new", task_name="add", labels=options["labels"], labels_types=options.get("labels_types"), args=[1, 2], kwargs={})
    retried.parse_labels()
    assert retried.labels == {"flag": False, "n": 3}
    # The events show them as the worker has them, the producer's enqueue as its start.
    assert captured.of(tid, "enqueued")["fields"]["labels"] == captured.of(tid, "started")["fields"]["labels"] == {"flag": False, "n": 3}


def _agent_middleware(broker):
    return next(m for m in broker.middlewares if isinstance(m, Z4jMiddleware))


@pytest.mark.parametrize("why", ["bad-policies", "get_agent-raised"])
def test_messages_pass_when_the_agent_could_not_be_made(monkeypatch, why):
    from z4j_agent import core
    import z4j_agent.taskiq as ztaskiq

    core.reset_agent()
    if why == "bad-policies":
        monkeypatch.setenv("Z4J_TASK_POLICIES", '["x"]')
    else:
        def broken(**_):
            raise RuntimeError("cannot make an agent")

        monkeypatch.setattr(ztaskiq, "get_agent", broken)
    monkeypatch.setenv("Z4J_AGENT_ID", "a")
    monkeypatch.setenv("Z4J_AGENT_SECRET", "s")
    try:
        async def go(t):
            task = await t["add"].kiq(2, 3)
            return (await task.wait_result(timeout=5)).return_value

        assert run(go) == 5
    finally:
        core.reset_agent()


def test_errors_are_not_kept_while_the_agent_is_off(captured):
    from z4j_agent import core

    async def main():
        broker, t = make_broker()
        broker.is_worker_process = True
        await broker.startup()
        agent = core.get_agent()
        agent.enabled = False
        try:
            await t["fail"].kiq("boom")
            await broker.wait_all()
            await asyncio.sleep(0.05)
            return _agent_middleware(broker)
        finally:
            agent.enabled = True
            await broker.shutdown()

    mw = asyncio.run(main())
    assert mw._errors == {}  # post_execute, which takes them out, does not run while the agent is off


def test_scheduled_retries_are_not_marked_while_the_agent_is_off(captured):
    from taskiq import ScheduleSource
    from taskiq.middlewares import SmartRetryMiddleware

    from z4j_agent import core

    class Source(ScheduleSource):
        async def get_schedules(self):
            return []

        async def add_schedule(self, schedule):
            pass

    async def main():
        mw = Z4jMiddleware()
        broker = InMemoryBroker().with_middlewares(SmartRetryMiddleware(default_retry_count=3, schedule_source=Source()), mw)

        @broker.task(task_name="off_mid_run", retry_on_error=True)
        async def off_mid_run():
            agent.enabled = False  # turned off after its start was recorded: its outcome never is
            raise RuntimeError("first attempt")

        broker.is_worker_process = True
        await broker.startup()
        agent = core.get_agent()
        try:
            await off_mid_run.kiq()
            await broker.wait_all()
            await asyncio.sleep(0.05)
            return mw
        finally:
            agent.enabled = True
            await broker.shutdown()

    assert asyncio.run(main())._retrying == set()


def test_sends_that_raised_are_forgotten_past_a_bound(captured):
    """post_send does not run when the broker raises: the time pre_send noted must not stay forever."""
    from taskiq.message import TaskiqMessage

    from z4j_agent._common import MAX_PENDING_SENDS

    broker, _ = make_broker()
    mw = _agent_middleware(broker)
    for i in range(MAX_PENDING_SENDS + 500):
        mw.pre_send(TaskiqMessage(task_id=f"m{i}", task_name="add", labels={}, labels_types={}, args=[], kwargs={}))
    assert len(mw._sent_at) <= MAX_PENDING_SENDS and f"m{MAX_PENDING_SENDS + 499}" in mw._sent_at


def test_shutdown_never_blocks_the_event_loop_while_the_destination_is_down():
    import time

    from z4j_agent import core

    core.reset_agent()
    core.get_agent(project="down", agent_id="a", agent_secret="s", broker_url="redis://127.0.0.1:1/0", exit_flush_timeout=1)
    gaps = []

    async def main():
        broker, t = make_broker()
        broker.is_worker_process = True
        await broker.startup()
        await t["add"].kiq(1, 2)
        await broker.wait_all()

        async def tick():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        t0 = time.monotonic()
        await broker.shutdown()  # the worker's goodbye, with nowhere to deliver it
        took = time.monotonic() - t0
        ticker.cancel()
        return took

    try:
        took = asyncio.run(main())
    finally:
        core.reset_agent()
    assert max(gaps) < 0.3, max(gaps)  # the loop ran throughout
    assert took < 1.6, took  # one exit deadline, not one per flush


def test_the_aio_pika_transport_closes_its_event_loop_and_quiets_the_senders_connect_errors(caplog):
    """The sender makes a new transport after each failed send: its loop (file descriptors) must
    not wait for the GC, and aiormq's error for each failed connect must not flood the log."""
    import threading

    from z4j_agent import transport as transports

    def fail_twice():
        for _ in range(2):
            t = transports.AioPikaTransport("amqp://guest:guest@127.0.0.1:1/", "agent-1", "q")
            with pytest.raises(Exception):
                t.send(b"{}", "sig")
            t.close()
            assert t._loop.is_closed()

    transports._quiet_our_connect_errors()
    transports._connect_log_filter._last = 0.0
    with caplog.at_level("ERROR", logger="aiormq.connection"):
        sender = threading.Thread(target=fail_twice, name=transports.SENDER_THREAD)
        sender.start()
        sender.join()
        from_sender = len(caplog.records)
        fail_twice()  # the host's own thread: its records pass as they are
    assert from_sender == 1
    assert len(caplog.records) == 3


def test_the_queue_of_an_aio_pika_message_is_the_amqp_queue_it_lands_in_not_its_routing_key():
    from types import SimpleNamespace

    import taskiq_aio_pika
    from taskiq_aio_pika import AioPikaBroker

    from z4j_agent.taskiq import _queue_of

    Queue = getattr(taskiq_aio_pika, "Queue", None)
    if Queue is None:  # taskiq-aio-pika before 0.6: one queue (queue_name=) takes every message
        broker = AioPikaBroker("amqp://guest:guest@127.0.0.1:5672/", queue_name="jobs")
        assert _queue_of(broker, SimpleNamespace(labels={"queue_name": "ignored: one queue takes all"})) == "jobs"
        assert _queue_of(AioPikaBroker(), SimpleNamespace(labels={})) == "taskiq"
        return
    one = AioPikaBroker("amqp://guest:guest@127.0.0.1:5672/", task_queues=[Queue(name="jobs", routing_key="jobs.rk")])
    assert _queue_of(one, SimpleNamespace(labels={"queue_name": "ignored: one queue takes all"})) == "jobs"
    two = AioPikaBroker("amqp://guest:guest@127.0.0.1:5672/", task_queues=[Queue(name="fast", routing_key="fast.rk"), Queue(name="slow")])
    assert _queue_of(two, SimpleNamespace(labels={"queue_name": "fast.rk"})) == "fast"
    assert _queue_of(two, SimpleNamespace(labels={"queue_name": "slow"})) == "slow"
    assert _queue_of(two, SimpleNamespace(labels={})) is None


def test_a_pydantic_result_is_shown_by_its_fields_a_secret_field_hidden_by_its_key(captured):
    """taskiq tasks return pydantic models: the result is the model's fields (its type's name
    first), hidden by their keys, not its repr cut. The agent imports no pydantic: it tells a model
    by its type's attributes."""
    import pydantic

    class Login(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        user: str
        password: str
        audit: str = pydantic.Field(default="kept out of its repr", repr=False)

    async def go(t):
        @t["add"].broker.task(task_name="login")
        async def login(user):
            return Login(user=user, password=SECRET, api_token=SECRET, note="extra")

        return (await login.kiq("ada")).task_id

    task_id = run(go)
    assert captured.of(task_id, "succeeded")["fields"]["result"] == {
        "__type__": "Login", "user": "ada", "password": "[redacted]", "api_token": "[redacted]", "note": "extra"}


def test_pydantic_1_models_and_attrs_instances_are_records_too():
    """Taskiq's venv has pydantic (whose pydantic.v1 is pydantic 1) and attrs (aiohttp's). A
    retry payload holding one is left out (JSON has no type for it), whatever its size: its str()
    is never made."""
    import attrs
    import pydantic.v1

    from z4j_agent.batch import raw_json_within
    from z4j_agent.redact import scrub

    class NoStr:
        def __str__(self):  # the encoder's str() of it, which must not be made
            raise AssertionError("str() made")

    class Old(NoStr, pydantic.v1.BaseModel):
        user: str
        secret: str
        audit: str = pydantic.v1.Field("kept out of its repr", repr=False)

    @attrs.define
    class Point(NoStr):
        x: int
        token: str
        masked: str = attrs.field(default="its own repr", repr=lambda v: "***")
        off: str = attrs.field(default="kept out of its repr", repr=False)

    class New(NoStr, pydantic.BaseModel):
        rows: list

    assert scrub(Old(user="ada", secret=SECRET)) == {"__type__": "Old", "user": "ada", "secret": "[redacted]"}
    assert scrub(Point(1, SECRET)) == {"__type__": "Point", "x": 1, "token": "[redacted]"}
    for huge in (Old(user="x" * 600_000, secret="s"), Point(1, "x" * 600_000), New(rows=list(range(300_000)))):
        reason = raw_json_within({"args": [huge]}, 512 * 1024).reason
        assert reason.endswith(f".<locals>.{type(huge).__name__}, which JSON cannot carry exactly")


def test_a_call_is_kept_as_json_makes_it_whatever_the_serializer(captured, monkeypatch):
    """taskiq's own formatter gives the task what JSON makes of its call ([1, 2] for (1, 2)) with
    every serializer (model_dump(mode="json")): the payload is exact as JSON makes it, with
    JSONSerializer and with PickleSerializer alike (whose worker's agent reads z4j's JSON)."""
    from taskiq.serializers import PickleSerializer

    async def go(t):
        return (await t["add"].kiq((1, 2), (3,))).task_id

    as_json = run(go)
    assert captured.of(as_json, "enqueued")["payload"]["args"] == [[1, 2], [3]]
    global make_broker
    made = make_broker

    def pickled():
        broker, t = made()
        broker.with_serializer(PickleSerializer())
        return broker, t

    monkeypatch.setattr(__import__(__name__), "make_broker", pickled)
    as_pickle = run(go)
    assert captured.of(as_pickle, "enqueued")["payload"]["args"] == [[1, 2], [3]]
    assert captured.of(as_pickle, "succeeded")["fields"]["result"] == [1, 2, 3]


def _z4j_message(task_id):
    """A message as the service writes one for a retry or a schedule (backend: taskiqMessage)."""
    return json.dumps({"task_id": task_id, "task_name": "add", "labels": {"tag": "x"}, "labels_types": None, "args": [1, 2], "kwargs": {}}).encode()


def _gated_deliveries(broker, deliveries):
    """What the receiver of a worker started with `broker` takes from its listen(), which yields `deliveries`."""

    async def main():
        async def listen():  # the broker's own stream of deliveries
            for d in deliveries:
                yield d

        broker.listen = listen
        broker.is_worker_process = True
        await broker.startup()  # this in-memory broker has no command channel
        try:
            return [d async for d in broker.listen()]
        finally:
            await broker.shutdown()

    return asyncio.run(main())


@pytest.mark.parametrize("serializer", ["PickleSerializer", "MSGPackSerializer", "CBORSerializer"])
def test_a_worker_whose_broker_does_not_read_json_gets_the_messages_z4j_wrote_as_its_broker_writes_them(captured, serializer):
    """z4j writes its retries and schedules as JSON; a worker whose broker writes with another of
    taskiq's serializers would log "Cannot parse message" and drop them. Its agent converts them
    where they come out of the broker; the broker's own messages, and what is not a taskiq
    message, go through untouched."""
    from taskiq import serializers
    from taskiq.abc.broker import AckableMessage
    from taskiq.message import TaskiqMessage

    broker, _ = make_broker()
    broker.with_serializer(getattr(serializers, serializer)())
    own = broker.formatter.dumps(TaskiqMessage(task_id="own", task_name="add", labels={}, labels_types={}, args=[3, 4], kwargs={})).message
    acked = []

    async def ack():
        acked.append("amqp")

    garbage = [b"{not json", b'{"task_id": "x"}', b"", b"not a taskiq message"]
    seen = _gated_deliveries(broker, [_z4j_message("from-z4j"), own, AckableMessage(data=_z4j_message("from-z4j-amqp"), ack=ack), *garbage])

    converted = broker.formatter.loads(seen[0])
    assert (converted.task_id, converted.task_name, converted.labels, converted.args) == ("from-z4j", "add", {"tag": "x"}, [1, 2])
    assert seen[1] is own
    assert isinstance(seen[2], AckableMessage) and broker.formatter.loads(seen[2].data).task_id == "from-z4j-amqp"
    asyncio.run(seen[2].ack())
    assert acked == ["amqp"]  # the converted delivery acks the broker's message
    assert seen[3:] == garbage


def test_a_worker_whose_broker_reads_json_is_left_alone(captured):
    broker, _ = make_broker()
    message = _z4j_message("from-z4j")
    assert _gated_deliveries(broker, [message])[0] is message
    assert not getattr(broker.listen, "z4j_gated", False)  # no commands, nothing to convert: not wrapped


def test_an_aio_pika_broker_on_tls_lends_the_agent_its_tls(tls_rabbit):
    """taskiq-aio-pika's TLS is its URL's arguments, ssl_options, or an ssl_context, as aio-pika's
    connect() takes them: the agent connects as the worker does with each."""
    import aio_pika
    from taskiq_aio_pika import AioPikaBroker

    from test_transport_tls import _delivered
    from z4j_agent.taskiq import broker_url

    files = tls_rabbit.all_files()
    brokers = [AioPikaBroker(tls_rabbit.url(**files)),
               AioPikaBroker(host="127.0.0.1", port=tls_rabbit.port, ssl=True, ssl_options=files),
               AioPikaBroker(tls_rabbit.url(host="localhost"), ssl_context=tls_rabbit.client_context())]
    async def connects(broker):  # as the broker's startup does: these settings are right
        conn = await aio_pika.connect_robust(broker.url, **broker._conn_kwargs)
        await conn.close()

    for broker in brokers:
        asyncio.run(connects(broker))
        url = broker_url(broker)
        assert url.startswith("amqps://"), url
        assert _delivered("aio_pika", url) == 1, url


def test_an_aio_pika_broker_without_a_url_is_on_localhost():
    """aio-pika's defaults (guest on localhost's 5672): the agent had no broker at all."""
    from taskiq_aio_pika import AioPikaBroker

    from z4j_agent.taskiq import broker_url

    assert broker_url(AioPikaBroker()) == "amqp://guest:guest@localhost:5672//"


def test_a_taskiq_sentinel_broker_lends_the_agent_its_sentinels_and_master(sentinel_group):
    from taskiq_redis import ListQueueSentinelBroker

    from sentinel_group import SERVICE
    from z4j_agent.taskiq import broker_url

    broker = ListQueueSentinelBroker(sentinels=[("127.0.0.1", sentinel_group.sentinel_port)], master_name=SERVICE, db=5)

    async def ping():  # the worker's own connection: these settings are right
        async with broker._acquire_master_conn() as conn:
            return await conn.ping()

    assert asyncio.run(ping())
    url = broker_url(broker)
    assert url == f"redis+sentinel://127.0.0.1:{sentinel_group.sentinel_port}/{SERVICE}/5"
    assert sentinel_group.delivered(url) == 1
