"""z4j_agent.rq with a real RQ (SimpleWorker, burst) on a real Redis."""
import os
import signal
import time
import uuid

import pytest

rq = pytest.importorskip("rq")
import redis  # noqa: E402
from rq import Queue, Retry  # noqa: E402

import z4j_agent.rq as zrq  # noqa: E402
from conftest import REDIS_URL, blocked_signals  # noqa: E402

import rq_jobs  # noqa: E402,F401  (RQ imports jobs by name)


@pytest.fixture
def queue(captured):
    conn = redis.Redis.from_url(REDIS_URL)
    q = Queue(f"z4j-unit-{uuid.uuid4().hex[:8]}", connection=conn)
    zrq.install()
    yield q
    q.empty()
    conn.close()


@pytest.fixture
def group(queue):
    """An RQ group whose jobs are deleted after the test, which empties it (RQ then forgets it).
    A group left in the tests' Redis db outlives the run: once its jobs expire, an RQ 2.1–2.4.0
    worker of a later run quits at its first maintenance (rq/rq#2269, where a group with expired
    jobs is followed by another), having run nothing."""
    from rq.group import Group

    made = Group.create(connection=queue.connection)
    yield made
    for job in made.get_jobs():
        job.delete()


def work(q):
    w = zrq.Z4jSimpleWorker([q], connection=q.connection, name=f"w-{uuid.uuid4().hex[:6]}")
    w.work(burst=True)
    return w


def test_a_job_that_succeeds(queue, captured):
    job = queue.enqueue("rq_jobs.add", 2, 3, password="hunter2-secret")
    w = work(queue)
    assert captured.kinds(job.id) == ["enqueued", "started", "succeeded"]
    enq = captured.of(job.id, "enqueued")
    assert enq["payload"] == {"name": "rq_jobs.add", "args": [2, 3], "kwargs": {"password": "hunter2-secret"}, "queue": queue.name, "options": enq["payload"]["options"]}
    assert enq["fields"]["kwargs"] == {"password": "[redacted]"}
    done = captured.of(job.id, "succeeded")
    assert done["fields"]["result"] == 5 and done["fields"]["runtime"] >= 0 and done["worker"] == w.name
    assert [e["kind"] for e in captured.workers()][:1] == ["worker-online"] and captured.workers("worker-offline")


def test_a_job_that_fails(queue, captured):
    job = queue.enqueue("rq_jobs.fail", "boom")
    work(queue)
    failed = captured.of(job.id, "failed")
    assert failed["fields"]["exception"] == "ValueError: boom"
    assert "Traceback" in failed["fields"]["traceback"] and failed["fields"]["retries"] == 0


def test_retry_by_exception_then_success(queue, captured):
    key = uuid.uuid4().hex
    job = queue.enqueue("rq_jobs.flaky", key, REDIS_URL, retry=Retry(max=2))
    work(queue)
    evs = [(e["kind"], e["fields"].get("retries")) for e in captured.tasks(job.id)]
    assert evs == [("enqueued", 0), ("started", 0), ("retried", 0), ("started", 1), ("succeeded", 1)]
    assert "first attempt" in captured.of(job.id, "retried")["fields"]["exception"]


@pytest.mark.parametrize("worker_class", ["Z4jSimpleWorker", "Z4jWorker"])
def test_the_failed_count_is_the_runs_that_failed(queue, captured, worker_class):
    """Heartbeats and worker-offline count the runs that failed, retried after an exception or
    not; a Z4jWorker learns it in the worker, not in the work horse that ran the job."""
    queue.enqueue("rq_jobs.add", 1, 2)
    queue.enqueue("rq_jobs.fail", "boom")
    queue.enqueue("rq_jobs.flaky", uuid.uuid4().hex, REDIS_URL, retry=Retry(max=2))
    w = getattr(zrq, worker_class)([queue], connection=queue.connection, name=f"w-{uuid.uuid4().hex[:6]}")
    w.work(burst=True)
    offline = [e for e in captured.workers("worker-offline") if e["worker"] == w.name][-1]
    assert (offline["fields"]["processed"], offline["fields"]["failed"]) == (4, 2)


def test_dependencies_link_parent_and_root(queue, captured):
    a = queue.enqueue("rq_jobs.add", 1, 1)
    b = queue.enqueue("rq_jobs.add", 2, 2, depends_on=a)
    c = queue.enqueue("rq_jobs.add", 3, 3, depends_on=b)
    work(queue)
    for job, parent in ((b, a), (c, b)):
        enq = captured.of(job.id, "enqueued")["fields"]
        assert enq["parentId"] == parent.id and enq["rootId"] == a.id and enq["dependsOn"] == [parent.id]
        assert captured.of(job.id, "started")["fields"]["rootId"] == a.id
    assert "rootId" not in captured.of(a.id, "enqueued")["fields"]
    assert all(captured.kinds(j.id)[-1] == "succeeded" for j in (a, b, c))


def test_a_job_enqueued_by_a_job_is_its_child(queue, captured):
    parent = queue.enqueue("rq_jobs.spawn", queue.name)
    work(queue)
    children = [e for e in captured.tasks() if e["kind"] == "enqueued" and e["taskId"] != parent.id]
    assert children and children[0]["fields"]["parentId"] == parent.id and children[0]["fields"]["rootId"] == parent.id


def test_install_queue_records_only_that_queue(captured):
    conn = redis.Redis.from_url(REDIS_URL)
    q = zrq.install_queue(Queue(f"z4j-unit-{uuid.uuid4().hex[:8]}", connection=conn))
    job = q.enqueue("rq_jobs.add", 1, 2)
    assert captured.kinds(job.id) == ["enqueued"]
    q.empty()


def test_a_scheduled_job_is_enqueued_with_its_eta(queue, captured):
    from datetime import timedelta

    job = queue.enqueue_in(timedelta(minutes=5), "rq_jobs.add", 1, 2)
    enq = captured.of(job.id, "enqueued")
    assert enq["fields"]["eta"] and enq["payload"]["args"] == [1, 2]
    job.delete()


def test_a_job_with_a_ttl_is_enqueued_with_when_it_expires(queue, captured):
    """RQ drops a job's key `ttl` seconds after it enqueued it, if no worker took it by then."""
    import datetime
    import time

    before = time.time()
    job = queue.enqueue("rq_jobs.add", 1, 2, ttl=60)
    plain = queue.enqueue("rq_jobs.add", 3, 4)
    expires = datetime.datetime.fromisoformat(captured.of(job.id, "enqueued")["fields"]["expires"]).timestamp()
    assert before + 60 <= expires <= time.time() + 60
    assert 59 <= queue.connection.ttl(job.key) <= 60
    assert "expires" not in captured.of(plain.id, "enqueued")["fields"]


def test_a_scheduled_or_deferred_job_with_a_ttl_is_sent_with_no_expiry_before_its_real_one(queue, captured):
    """A scheduled job's key gets `ttl` again when the scheduler queues it (if it is still there):
    it expires `ttl` after its eta, or after its enqueue when the eta is further off. A deferred
    job's clock starts again when its dependencies end: no expiry is known, so none is sent (the
    service would mark it expired while RQ still runs it)."""
    import datetime
    import time
    from datetime import timedelta

    def expires(job):
        return datetime.datetime.fromisoformat(captured.of(job.id, "enqueued")["fields"]["expires"]).timestamp()

    before = time.time()
    soon = queue.enqueue_in(timedelta(minutes=5), "rq_jobs.add", 1, 2, ttl=1800)  # queued at +5 min, gone 30 min later
    late = queue.enqueue_in(timedelta(hours=2), "rq_jobs.add", 1, 2, ttl=1800)  # its key is gone before its eta
    parent = queue.enqueue("rq_jobs.add", 1, 1)
    child = queue.enqueue("rq_jobs.add", 2, 2, depends_on=parent, ttl=1800)
    after = time.time()
    assert before + 300 + 1800 - 1 <= expires(soon) <= after + 300 + 1800 + 1
    assert before + 1800 <= expires(late) <= after + 1800
    assert captured.of(child.id, "enqueued")["fields"]["deferred"] is True
    assert "expires" not in captured.of(child.id, "enqueued")["fields"]
    for job in (soon, late, child, parent):
        job.delete()


def test_a_producer_never_imports_the_job_function(queue, captured):
    job = queue.enqueue("module_that_does_not_exist.func", 1)
    assert captured.kinds(job.id) == ["enqueued"]
    job.delete()


def test_enqueue_many_records_every_job_with_its_links(queue, group, captured):
    """enqueue_many (and Group.enqueue_many through it) creates and enqueues its jobs without
    enqueue_job: each is still recorded, with its payload, and a dependent one with its links."""
    first = queue.enqueue_many([Queue.prepare_data("rq_jobs.add", (1, 2), job_id=f"many-{uuid.uuid4().hex}")])[0]
    jobs = queue.enqueue_many(job_datas=[
        Queue.prepare_data("rq_jobs.add", (5, 6), {"password": "hunter2-secret"}),
        Queue.prepare_data("rq_jobs.add", (7, 8), depends_on=first.id),
    ])
    grouped = group.enqueue_many(queue, [Queue.prepare_data("rq_jobs.add", (9, 10))])
    work(queue)
    for job in (first, *jobs, *grouped):
        assert captured.kinds(job.id) == ["enqueued", "started", "succeeded"]
    enq = captured.of(jobs[0].id, "enqueued")
    assert enq["payload"]["args"] == [5, 6] and enq["payload"]["kwargs"] == {"password": "hunter2-secret"} and enq["fields"]["kwargs"] == {"password": "[redacted]"}
    linked = captured.of(jobs[1].id, "enqueued")["fields"]
    assert linked["parentId"] == first.id and linked["rootId"] == first.id
    assert captured.of(jobs[1].id, "started")["fields"]["rootId"] == first.id
    assert captured.of(grouped[0].id, "enqueued")["fields"]["groupId"] == group.name
    assert captured.of(grouped[0].id, "started")["fields"]["groupId"] == group.name


def test_jobs_enqueue_many_sends_from_a_job_are_its_children(queue, captured):
    parent = queue.enqueue("rq_jobs.spawn_many", queue.name)
    work(queue)
    children = [e for e in captured.tasks() if e["kind"] == "enqueued" and e["taskId"] != parent.id]
    assert len(children) == 2 and all(c["fields"]["parentId"] == parent.id and c["fields"]["rootId"] == parent.id for c in children)


def test_stop_job_stops_a_job_in_a_simple_worker(queue, captured):
    """RQ's stop-job (z4j's terminate) kills a work horse; a Z4jSimpleWorker has none and stops
    the job's thread instead: the job ends as stopped, reported revoked, and the worker goes on."""
    import threading
    import time

    from rq.command import send_stop_job_command

    job = queue.enqueue("rq_jobs.sleepy", 20)
    after = queue.enqueue("rq_jobs.add", 1, 2)

    def stop_once_started():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and job.get_status(refresh=True) != "started":
            time.sleep(0.02)
        time.sleep(0.1)
        send_stop_job_command(queue.connection, job.id)

    threading.Thread(target=stop_once_started, daemon=True).start()
    t0 = time.monotonic()
    work(queue)
    assert time.monotonic() - t0 < 10  # not the job's 20 s
    assert job.get_status(refresh=True) == "stopped"
    assert captured.kinds(job.id)[-1] == "revoked"
    assert captured.kinds(after.id) == ["enqueued", "started", "succeeded"]


def test_a_failed_job_requeued_runs_as_a_new_attempt(queue, captured):
    """RQ's requeue (and z4j's requeue of dead letters) runs a failed job again under its id:
    the run is the next attempt, so the service moves the task on from failed."""
    from rq.registry import FailedJobRegistry

    job = queue.enqueue("rq_jobs.fail_first", uuid.uuid4().hex, REDIS_URL)
    work(queue)
    FailedJobRegistry(queue=queue).requeue(job.id)
    work(queue)
    evs = [(e["kind"], e["fields"].get("retries")) for e in captured.tasks(job.id)]
    assert evs == [("enqueued", 0), ("started", 0), ("failed", 0), ("started", 1), ("succeeded", 1)]


def test_a_retry_clone_of_a_failed_job_starts_at_its_first_attempt(queue, captured):
    """z4j's retry of an RQ job copies its meta to a new job id: the count is the old job's."""
    job = queue.enqueue("rq_jobs.fail", "boom")
    work(queue)
    clone = rq.job.Job.fetch(job.id, connection=queue.connection)
    assert zrq.attempt_of(clone) == 1  # the original's next run would be its second attempt
    clone._id = uuid.uuid4().hex  # what the service's clone is: the same meta under another id
    assert zrq.attempt_of(clone) == 0


@pytest.mark.skipif(not hasattr(rq, "Repeat"), reason="RQ has Repeat from 2.3 (the floor run's RQ is older)")
def test_each_repeat_is_a_new_attempt(queue, captured):
    from rq import Repeat

    job = queue.enqueue("rq_jobs.add", 1, 2, repeat=Repeat(times=2))
    for _ in range(3):
        work(queue)
    evs = [(e["kind"], e["fields"].get("retries")) for e in captured.tasks(job.id) if e["kind"] != "enqueued"]
    assert evs == [("started", 0), ("succeeded", 0), ("started", 1), ("succeeded", 1), ("started", 2), ("succeeded", 2)]


def test_a_job_cancelled_in_rq_is_reported_revoked(queue, captured):
    from rq.job import cancel_job

    job = queue.enqueue("rq_jobs.add", 1, 2)
    other = queue.enqueue("rq_jobs.add", 3, 4)
    cancel_job(job.id, connection=queue.connection)
    other.cancel()
    for cancelled in (job, other):
        assert captured.kinds(cancelled.id) == ["enqueued", "revoked"]
        assert captured.of(cancelled.id, "revoked")["fields"] == {"name": "rq_jobs.add", "queue": queue.name, "retries": 0, "reason": "cancelled in RQ (Job.cancel)"}


@pytest.mark.parametrize("retries", [0, 1])
def test_a_job_whose_worker_died_is_reported_when_a_worker_cleans_it_up(queue, captured, retries):
    """A worker killed mid-job leaves it in the started registry; another worker's clean-up
    fails it (or retries it): reported then, not left started."""
    from rq.registry import StartedJobRegistry

    job = queue.enqueue("rq_jobs.add", 1, 2, retry=Retry(max=retries) if retries else None)
    # What a worker does as it takes the job, then dies: out of the queue, into the started registry.
    queue.connection.lrem(queue.key, 0, job.id)
    with queue.connection.pipeline() as p:
        job.prepare_for_execution("dead-worker", p)
        p.execute()
    queue.connection.zadd(StartedJobRegistry(queue=queue).key, {f"{job.id}:exec1": 1})
    w = zrq.Z4jSimpleWorker([queue], connection=queue.connection, name=f"w-{uuid.uuid4().hex[:6]}")
    w.clean_registries()
    ended = captured.tasks(job.id)[-1]
    assert ended["kind"] == ("retried" if retries else "failed") and ended["fields"]["exception"].startswith("AbandonedJobError")
    assert ended["worker"] == "dead-worker" and ended["fields"]["retries"] == 0
    if retries:  # RQ put it back: its run is the next attempt
        work(queue)
        assert [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(job.id)][-2:] == [("started", 1), ("succeeded", 1)]
    else:
        assert job.get_status(refresh=True) == "failed"


def test_the_worker_sends_the_call_only_where_no_agent_recorded_the_enqueue(queue, captured):
    recorded = queue.enqueue("rq_jobs.add", 1, 2)
    unrecorded = queue.enqueue("rq_jobs.add", 3, 4, password="hunter2-secret")
    unrecorded.meta.pop("z4j_payload")  # as a producer without the agent (rq enqueue, rq cron) leaves it
    unrecorded.save_meta()
    work(queue)
    assert "args" not in captured.of(recorded.id, "started")["fields"] and "payload" not in captured.of(recorded.id, "started")
    started = captured.of(unrecorded.id, "started")
    assert started["fields"]["args"] == [3, 4] and started["fields"]["kwargs"] == {"password": "[redacted]"}
    assert started["payload"]["args"] == [3, 4] and started["payload"]["kwargs"] == {"password": "hunter2-secret"}


def test_a_failed_job_gets_no_meta_write_while_the_agent_is_off(queue, captured):
    from z4j_agent import core

    agent = core.get_agent()
    agent.enabled = False
    try:
        job = queue.enqueue("rq_jobs.fail", "boom")
        work(queue)
    finally:
        agent.enabled = True
    job.refresh()
    assert "z4j_attempt" not in (job.meta or {})


def test_work_horses_do_not_wait_for_a_destination_that_is_down(monkeypatch, redis_client):
    """Z4jWorker forks a work horse per job, which flushes before it exits: with z4j unreachable
    each job would wait out the flush's timeout."""
    from z4j_agent import core

    core.reset_agent()
    monkeypatch.setattr(zrq, "install", lambda **_: None)  # the process-wide enqueue hooks stay the captured agent's
    core.get_agent(project="rq-down", agent_id="a", agent_secret="s", transport="http", http_url="http://127.0.0.1:1", exit_flush_timeout=0.6)
    conn = redis.Redis.from_url(REDIS_URL)
    q = Queue(f"z4j-unit-down-{uuid.uuid4().hex[:8]}", connection=conn)
    try:
        jobs = [q.enqueue("rq_jobs.add", i, i) for i in range(10)]
        w = zrq.Z4jWorker([q], connection=conn, name=f"w-{uuid.uuid4().hex[:6]}")
        w.work(burst=True)
        for j in jobs:
            j.refresh()
        assert all(j.get_status() == "finished" for j in jobs)
        # From the first job's start to the last one's end: each horse's flush comes between.
        took = (jobs[-1].ended_at - jobs[0].started_at).total_seconds()
        assert took < 2, took  # ~0.5 s per job when each horse waited for z4j
    finally:
        q.empty()
        conn.close()
        core.reset_agent()


@pytest.mark.parametrize("producer_had_agent", [False, True], ids=["call copied by the horse", "call sent by the producer"])
def test_a_work_horse_that_dies_has_already_sent_its_start(monkeypatch, redis_client, producer_had_agent):
    """A work horse's `started` is sent before the job runs, so a horse that dies mid-job leaves
    a task that started, then failed (not one that never ran). Where no agent recorded the call
    at enqueue, that `started` carries it (its only copy); where one did, it carries none."""
    import json

    from z4j_agent import core

    core.reset_agent()
    monkeypatch.setattr(zrq, "install", lambda **_: None)  # the process-wide enqueue hooks stay the captured agent's
    project = f"rq-die-{uuid.uuid4().hex[:8]}"
    core.get_agent(project=project, agent_id="a", agent_secret="s", transport="redis", broker_url=REDIS_URL)
    q = Queue(f"z4j-unit-die-{uuid.uuid4().hex[:8]}", connection=redis_client)
    try:
        job = q.enqueue("rq_jobs.die")
        if producer_had_agent:
            job.meta["z4j_payload"] = 1  # as a producer with the agent leaves it
        else:
            job.meta.pop("z4j_payload", None)  # as a producer without the agent leaves it
        job.save_meta()
        w = zrq.Z4jWorker([q], connection=redis_client, name=f"w-{uuid.uuid4().hex[:6]}")
        w.work(burst=True)
        assert job.get_status(refresh=True) == "failed"
        events = [e for _, f in redis_client.xrange(f"z4j:events:{project}") for e in json.loads(f[b"batch"])["events"] if e.get("taskId") == job.id]
        assert [e["kind"] for e in events] == ["started", "failed"]  # started from the horse, failed from the worker, which saw its horse die
        started = events[0]
        assert started["worker"] == w.name and started["fields"]["retries"] == 0
        if producer_had_agent:
            assert "payload" not in started and "args" not in started["fields"]
        else:
            assert started["payload"]["name"] == "rq_jobs.die" and started["fields"]["args"] == []
    finally:
        q.empty()
        redis_client.delete(f"z4j:events:{project}")
        core.reset_agent()


@pytest.mark.skipif(not hasattr(zrq, "Z4jSpawnWorker"), reason="a SpawnWorker's horse runs the worker's class from RQ 3.0 (the floor and mid runs have an older RQ)")
def test_a_spawn_worker_runs_jobs_and_its_horse_reports_them(monkeypatch, redis_client):
    """RQ's SpawnWorker pickles the worker's class and exception handlers for each horse, a new
    process (not a fork) that makes its own agent from the environment it inherits."""
    import json

    from z4j_agent import core

    core.reset_agent()
    monkeypatch.setattr(zrq, "install", lambda **_: None)  # the process-wide enqueue hooks stay the captured agent's
    project = f"rq-spawn-{uuid.uuid4().hex[:8]}"
    for name, value in {"Z4J_PROJECT": project, "Z4J_AGENT_ID": "a", "Z4J_AGENT_SECRET": "s"}.items():
        monkeypatch.setenv(name, value)
    # Before 3.0 a horse does not get the worker's sys.path: it finds rq_jobs as a deployed horse finds
    # a project's jobs, on its PYTHONPATH.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.path.dirname(rq_jobs.__file__), *filter(None, [os.environ.get("PYTHONPATH")])]))
    q = Queue(f"z4j-unit-spawn-{uuid.uuid4().hex[:8]}", connection=redis_client)
    try:
        done, failed = q.enqueue("rq_jobs.add", 2, 3), q.enqueue("rq_jobs.fail", "boom")
        w = zrq.Z4jSpawnWorker([q], connection=redis_client, name=f"w-{uuid.uuid4().hex[:6]}")
        w.work(burst=True)
        assert (done.get_status(refresh=True), failed.get_status(refresh=True)) == ("finished", "failed")
        events = [e for _, f in redis_client.xrange(f"z4j:events:{project}") for e in json.loads(f[b"batch"])["events"]]
        assert [e["kind"] for e in events if e.get("taskId") == done.id] == ["started", "succeeded"]
        assert [e["kind"] for e in events if e.get("taskId") == failed.id] == ["started", "failed"]
        assert {e["worker"] for e in events if e["type"] == "task"} == {w.name}
    finally:
        q.empty()
        redis_client.delete(f"z4j:events:{project}")
        core.reset_agent()


def test_a_producer_without_a_broker_url_publishes_to_its_queues_redis(redis_client):
    """agent/README.md's producer line, `z4j_agent.rq.install()`, with only the credentials set:
    the agent learns the Redis from the first queue that enqueues."""
    from conftest import events_of_a_producer

    queue = f"z4j-unit-{uuid.uuid4().hex[:8]}"
    events, stderr = events_of_a_producer(redis_client, (
        "import redis, z4j_agent.rq\n"
        "from rq import Queue\n"
        "z4j_agent.rq.install()\n"
        f"q = Queue({queue!r}, connection=redis.Redis.from_url(REDIS_URL))\n"
        "job = q.enqueue('rq_jobs.add', 2, 3)\n"
        "q.empty()\n"
    ))
    assert [(e["kind"], e["fields"]["queue"]) for e in events] == [("enqueued", queue)], stderr


def test_a_call_json_would_change_has_no_payload_rq_pickles_it(queue, captured):
    """RQ pickles the call: the job receives {1: "a"} and (3, 4), and a retry from z4j with the
    JSON of them ({"1": "a"}, [3, 4]) would not be the same call."""
    job = queue.enqueue("rq_jobs.add", {1: "a"}, (3, 4))
    enq = captured.of(job.id, "enqueued")
    assert "payload" not in enq
    assert enq["fields"]["payloadOmitted"] == "its arguments hold a dict key of type int, which JSON would turn into a string"
    plain = queue.enqueue("rq_jobs.add", {"k": [1]}, 2)
    assert captured.of(plain.id, "enqueued")["payload"]["args"] == [{"k": [1]}, 2]


def test_an_rq_queue_on_sentinel_lends_the_agent_its_sentinels_and_master(sentinel_group):
    """A connection from redis-py's Sentinel (as RQ's own Sentinel settings make it): the agent's
    URL asks the same sentinels for the same master, through a real Sentinel."""
    from redis.sentinel import Sentinel

    from sentinel_group import SERVICE
    from z4j_agent._common import redis_url

    conn = Sentinel([("127.0.0.1", sentinel_group.sentinel_port)], socket_timeout=3).master_for(SERVICE, db=2)
    queue = Queue("z4j-unit-sentinel", connection=conn)
    queue.connection.ping()  # the worker's own connection: these settings are right
    url = redis_url(queue.connection)
    assert url == f"redis+sentinel://127.0.0.1:{sentinel_group.sentinel_port}/{SERVICE}/2"
    assert sentinel_group.delivered(url) == 1


def test_the_worker_leaves_the_process_signals_to_its_main_thread(queue):
    """RQ's pub/sub thread, started by a Z4jWorker, takes no SIGTERM: handed to it, an idle
    worker's stop waited for its BLPOP to time out (`rq worker-pool` hung on SIGTERM)."""
    worker = zrq.Z4jWorker([queue], connection=queue.connection, name=f"w-{uuid.uuid4().hex[:6]}")
    worker.subscribe()
    try:
        blocked = blocked_signals(worker.pubsub_thread)
        assert {signal.SIGTERM, signal.SIGINT} <= blocked, blocked
    finally:
        worker.unsubscribe()


def _subscribed_worker(queue):
    """A Z4jWorker whose pub/sub thread runs, once Redis has confirmed its subscription (up to 5 s)."""
    worker = zrq.Z4jWorker([queue], connection=queue.connection, name=f"w-{uuid.uuid4().hex[:6]}")
    worker.subscribe()
    deadline = time.monotonic() + 5
    while not worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    return worker


def test_the_worker_writes_rqs_unsubscribe_only_once_its_pub_sub_thread_has_ended(queue):
    """Asked to stop, the pub/sub thread closes its connection as soon as anything wakes it: an
    UNSUBSCRIBE written on that connection meanwhile failed with EBADF, out of the worker's
    teardown (seen in CI on RQ 3.0 + redis-py 8, the thread woken by its subscription's reply)."""
    worker = _subscribed_worker(queue)
    pubsub, thread = worker.pubsub, worker.pubsub_thread
    alive_at_unsubscribe = []
    unsubscribe = pubsub.unsubscribe

    def unsubscribe_seen(*args, **kwargs):
        alive_at_unsubscribe.append(thread.is_alive())
        return unsubscribe(*args, **kwargs)

    pubsub.unsubscribe = unsubscribe_seen
    worker.unsubscribe()
    assert alive_at_unsubscribe == [False]
    assert not thread.is_alive()


def test_the_worker_stops_its_pub_sub_thread_at_once_when_the_thread_wakes_first(queue):
    """RQ 3.0 wakes its pub/sub thread by unsubscribing, then stops it (redis-py 8's stop() waits
    for it). A thread that woke before the stop was asked waited RQ's 60 s for a subscription: the
    worker's stop took a minute. The pause after the unsubscribe lets the thread wake first."""
    worker = _subscribed_worker(queue)
    pubsub = worker.pubsub
    unsubscribe = pubsub.unsubscribe

    def unsubscribe_then_pause(*args, **kwargs):
        done = unsubscribe(*args, **kwargs)
        time.sleep(0.3)
        return done

    pubsub.unsubscribe = unsubscribe_then_pause
    t0 = time.monotonic()
    worker.unsubscribe()
    took = time.monotonic() - t0
    assert not worker.pubsub_thread.is_alive()
    assert took < 10, f"the worker's pub/sub thread took {took:.1f} s to stop"
