"""z4j_agent.arq with a real arq worker (burst) on a real Redis."""
import asyncio
import uuid

import pytest

arq = pytest.importorskip("arq")
from arq import create_pool  # noqa: E402
from arq.connections import RedisSettings  # noqa: E402
from arq.worker import Retry, create_worker  # noqa: E402

import z4j_agent.arq as zarq  # noqa: E402
from conftest import REDIS_URL  # noqa: E402

SECRET = "hunter2-secret"
runs = {}


async def add(ctx, x, y, password=None):
    return x + y


async def fail(ctx, message):
    raise ValueError(message)


async def flaky(ctx, key):
    runs[key] = runs.get(key, 0) + 1
    if runs[key] == 1:
        raise Retry(defer=0.01)
    return "ok"


class ApiError(Exception):
    """Attributes read from its data (a common shape): `__notes__`, which the traceback module
    reads, raises KeyError rather than AttributeError."""

    def __init__(self, data):
        super().__init__("api error")
        self.data = data

    def __getattr__(self, name):
        return self.data[name]


async def api_fail(ctx, key):
    runs[key] = runs.get(key, 0) + 1
    if runs[key] == 1:
        try:
            raise ApiError({"status": 503})
        except ApiError as err:
            raise Retry(defer=0.01) from err
    return "ok"


async def sleepy(ctx, seconds):
    await asyncio.sleep(seconds)


async def chain(ctx, n):
    if n > 0:
        await ctx["redis"].enqueue_job("chain", n - 1, _queue_name=ctx["queue"])
    return n


async def close_pool(pool):
    """redis-py's aclose (5.0.1 and later; the floor run's redis-py is older)."""
    await (pool.aclose() if hasattr(pool, "aclose") else pool.close(close_connection_pool=True))


def settings(queue, **more):
    async def startup(ctx):
        ctx["queue"] = queue

    return zarq.instrument({
        "functions": [add, fail, flaky, sleepy, chain, api_fail], "redis_settings": RedisSettings.from_dsn(REDIS_URL), "queue_name": queue,
        "burst": True, "poll_delay": 0.01, "on_startup": startup, "max_jobs": 3, "allow_abort_jobs": True, **more,
    })


def run(queue, *jobs, before_worker=None, **worker_settings):
    async def main():
        pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue)
        ids = [(await pool.enqueue_job(name, *args, **kwargs)).job_id for name, args, kwargs in jobs]
        if before_worker:
            await before_worker(pool, ids)
        worker = create_worker(settings(queue, **worker_settings))
        await worker.main()
        await worker.close()
        await close_pool(pool)
        return ids

    return asyncio.run(main())


@pytest.fixture
def queue(captured):
    zarq.install()
    return f"z4j-unit-arq-{uuid.uuid4().hex[:8]}"


def test_success_failure_retry(queue, captured):
    ok, bad, again = run(queue, ("add", (2, 3), {"password": SECRET}), ("fail", ("boom",), {}), ("flaky", (uuid.uuid4().hex,), {}))
    assert captured.kinds(ok) == ["enqueued", "started", "succeeded"]
    enq = captured.of(ok, "enqueued")
    assert enq["payload"] == {"name": "add", "args": [2, 3], "kwargs": {"password": SECRET}, "queue": queue, "options": {}}
    assert enq["fields"]["kwargs"] == {"password": "[redacted]"}
    done = captured.of(ok, "succeeded")
    assert done["fields"]["result"] == 5 and done["fields"]["runtime"] >= 0 and done["worker"].startswith("arq@")
    f = captured.of(bad, "failed")["fields"]
    assert f["exception"] == "ValueError: boom" and "Traceback" in f["traceback"]
    assert [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(again)] == [("enqueued", 0), ("started", 0), ("retried", 0), ("started", 1), ("succeeded", 1)]
    online = captured.workers("worker-online")[0]
    assert online["fields"]["concurrency"] == 3 and captured.workers("worker-offline")


def test_the_failed_count_leaves_out_retries_and_aborts(queue, captured):
    """As in the other engines' counts: a job that asked for a Retry, or was aborted while it
    ran, did not fail."""
    async def abort_once_running(pool, ids):
        async def abort():
            from arq.jobs import Job

            for _ in range(500):
                if await pool.exists(f"arq:in-progress:{ids[-1]}"):
                    break
                await asyncio.sleep(0.01)
            await Job(ids[-1], pool).abort(timeout=0)

        asyncio.get_running_loop().create_task(abort())

    *_, aborted = run(queue, ("add", (1, 2), {}), ("fail", ("boom",), {}), ("flaky", (uuid.uuid4().hex,), {}), ("sleepy", (20,), {}), before_worker=abort_once_running)
    assert captured.kinds(aborted)[-1] == "revoked"
    offline = captured.workers("worker-offline")[-1]["fields"]
    assert (offline["processed"], offline["failed"]) == (5, 1)


def test_a_retry_asked_of_a_worker_that_does_not_retry_is_a_failure(queue, captured):
    (job,) = run(queue, ("flaky", (uuid.uuid4().hex,), {}), retry_jobs=False)
    assert [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(job)] == [("enqueued", 0), ("started", 0), ("failed", 0)]


def test_an_exception_the_traceback_module_cannot_format_is_still_the_jobs_own(queue, captured):
    """The agent's wrapper formats the reason of a Retry in the job's own except clause: a reason
    whose traceback the traceback module cannot format must not replace the job's Retry with the
    agent's KeyError (arq would fail the job, and its logging of that KeyError, whose context
    holds the same unformattable exception, raises out of the worker)."""
    (job,) = run(queue, ("api_fail", (uuid.uuid4().hex,), {}))
    assert [(e["kind"], e["fields"]["retries"]) for e in captured.tasks(job)] == [("enqueued", 0), ("started", 0), ("retried", 0), ("started", 1), ("succeeded", 1)]
    retried = captured.of(job, "retried")["fields"]
    assert retried["exception"] == "ApiError: api error" and "api_fail" in retried["traceback"]


def test_a_deferred_job_is_enqueued_with_its_eta(queue, captured):
    import datetime

    async def main():
        pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue)
        by = await pool.enqueue_job("add", 1, 2, _defer_by=datetime.timedelta(minutes=5))
        until = await pool.enqueue_job("add", 3, 4, _defer_until=datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
        await pool.delete(queue, f"arq:job:{by.job_id}", f"arq:job:{until.job_id}")  # never run
        await close_pool(pool)
        return by.job_id, until.job_id

    by, until = asyncio.run(main())
    eta = datetime.datetime.fromisoformat(captured.of(by, "enqueued")["fields"]["eta"])
    assert abs((eta - datetime.datetime.now(datetime.timezone.utc)).total_seconds() - 300) < 30
    assert captured.of(until, "enqueued")["fields"]["eta"] == "2031-01-02T03:04:05+00:00"


def test_jobs_enqueued_by_a_job_are_its_children(queue, captured):
    (first,) = run(queue, ("chain", (2,), {}))
    started = [e for e in captured.tasks() if e["kind"] == "started"]
    by_n = {captured.of(i, "succeeded")["fields"]["result"]: i for i in {e["taskId"] for e in started}}
    assert by_n[2] == first
    for n, parent in ((1, by_n[2]), (0, by_n[1])):
        f = captured.of(by_n[n], "succeeded")["fields"]
        assert f["parentId"] == parent and f["rootId"] == first


def test_instrument_is_idempotent(captured):
    s = {"functions": [add], "redis_settings": RedisSettings.from_dsn(REDIS_URL)}
    assert zarq.instrument(zarq.instrument(s))["functions"][0].coroutine.__wrapped__ is add


def test_jobs_that_end_before_their_function_runs(queue, captured):
    """arq ends these in its worker without calling the function: each still gets its outcome."""
    import time

    async def meanwhile(pool, ids):
        await pool.zadd("arq:abort", {ids[1]: int(time.time() * 1000)})  # what Job.abort() does
        await asyncio.sleep(0.15)  # the first one's data expires

    expired, aborted, out_of_tries, unknown = run(
        queue,
        ("add", (1, 2), {"_expires": 0.05}),
        ("add", (3, 4), {}),
        ("add", (5, 6), {"_job_try": 9}),  # past arq's default of 5 tries
        ("no_such_function", (), {}),
        before_worker=meanwhile,
    )
    assert captured.kinds(expired) == ["enqueued", "expired"]
    assert captured.of(expired, "expired")["fields"]["exception"] == "JobExecutionFailed: job expired"
    assert captured.kinds(aborted) == ["enqueued", "revoked"]
    revoked = captured.of(aborted, "revoked")
    assert revoked["fields"]["reason"] == "aborted before it started" and revoked["fields"]["name"] == "add" and revoked["worker"].startswith("arq@")
    failed = captured.of(out_of_tries, "failed")["fields"]
    assert failed["exception"].endswith("retries exceeded") and failed["retries"] == 8 and failed["queue"] == queue
    assert "not found" in captured.of(unknown, "failed")["fields"]["exception"]


def test_the_worker_sends_the_call_only_where_no_agent_recorded_the_enqueue(queue, captured):
    from arq.connections import ArqRedis

    async def enqueue_without_the_agent(pool, ids):
        job = await ArqRedis.enqueue_job.__wrapped__(pool, "add", 5, 6)  # arq's own enqueue: a uuid4 id
        ids.append(job.job_id)

    recorded, own_id, unrecorded = run(queue, ("add", (1, 2), {}), ("add", (3, 4), {"_job_id": f"my-own-{uuid.uuid4().hex[:8]}"}), before_worker=enqueue_without_the_agent)
    assert zarq.enqueue_recorded(recorded) and uuid.UUID(recorded).version == 8
    assert not zarq.enqueue_recorded(own_id) and not zarq.enqueue_recorded(unrecorded) and uuid.UUID(unrecorded).version == 4
    assert not zarq.enqueue_recorded(uuid.uuid4().hex)

    started = captured.of(recorded, "started")
    assert "payload" not in started and "args" not in started["fields"]
    assert captured.of(recorded, "enqueued")["payload"]["args"] == [1, 2]
    assert captured.of(own_id, "started")["payload"]["args"] == [3, 4]  # recorded too, but its id carries no mark
    assert captured.kinds(unrecorded) == ["started", "succeeded"]
    started = captured.of(unrecorded, "started")
    assert started["payload"] == {"name": "add", "args": [5, 6], "kwargs": {}, "queue": queue, "options": {}} and started["fields"]["args"] == [5, 6]


def test_a_producer_without_a_broker_url_publishes_to_its_pools_redis(redis_client):
    """agent/README.md's producer line, `z4j_agent.arq.install()`, with only the credentials set:
    the agent learns the Redis from the pool that enqueues."""
    from conftest import events_of_a_producer

    queue = f"z4j-unit-arq-{uuid.uuid4().hex[:8]}"
    events, stderr = events_of_a_producer(redis_client, (
        "import asyncio, z4j_agent.arq\n"
        "from arq import create_pool\n"
        "from arq.connections import RedisSettings\n"
        "z4j_agent.arq.install()\n"
        "async def main():\n"
        "    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))\n"
        f"    await pool.enqueue_job('add', 2, 3, _queue_name={queue!r})\n"
        f"    await pool.delete({queue!r})\n"
        "    await (pool.aclose() if hasattr(pool, 'aclose') else pool.close(close_connection_pool=True))\n"
        "asyncio.run(main())\n"
    ))
    assert [(e["kind"], e["fields"]["queue"]) for e in events] == [("enqueued", queue)], stderr


def test_a_call_json_would_change_has_no_payload_arq_pickles_it(queue, captured):
    """arq pickles the call (its default job_serializer): the job receives (1, 2), not [1, 2]."""
    typed, plain = run(queue, ("add", ((1, 2), (3,)), {}), ("add", ([1, 2], [3]), {}))
    enq = captured.of(typed, "enqueued")
    assert "payload" not in enq and enq["fields"]["payloadOmitted"] == "its arguments hold a tuple, which JSON would turn into a list"
    assert captured.of(typed, "succeeded")["fields"]["result"] == [1, 2, 3]
    assert captured.of(plain, "enqueued")["payload"]["args"] == [[1, 2], [3]]


def _url_of_pool(settings):
    """The URL the agent makes of an arq pool of `settings` (create_pool connects and pings: the
    settings are right)."""
    from z4j_agent._common import redis_url

    async def url():
        pool = await create_pool(settings, retry=0)
        try:
            return redis_url(pool)
        finally:
            await close_pool(pool)

    return asyncio.run(url())


def test_an_arq_pool_and_its_settings_on_tls_redis_lend_the_agent_their_tls(tls_redis):
    """RedisSettings(ssl=True, ssl_ca_certs=...) makes a redis-py asyncio client: the URL the agent
    makes of it, and of the settings as instrument() reads them (which named neither the CA nor
    the client certificate, and a private CA refused the agent), carries both, through a real
    handshake."""
    from test_agent import _stream_delivered
    from z4j_agent.arq import redis_settings_url

    settings = RedisSettings(host="127.0.0.1", port=tls_redis.port, database=int(tls_redis.url().rsplit("/", 1)[1]), ssl=True,
                             ssl_ca_certs=tls_redis.cafile, ssl_certfile=tls_redis.certfile, ssl_keyfile=tls_redis.keyfile)
    assert _stream_delivered(_url_of_pool(settings)) == 1
    assert _stream_delivered(redis_settings_url(settings)) == 1


def test_arq_on_sentinel_lends_the_agent_its_sentinels_and_master(sentinel_group):
    """RedisSettings(sentinel=True): the worker's settings and its pool both give the agent a
    redis+sentinel:// URL of the same sentinels and master, through a real Sentinel."""
    from sentinel_group import SERVICE
    from z4j_agent.arq import redis_settings_url

    settings = RedisSettings(host=[("127.0.0.1", sentinel_group.sentinel_port)], sentinel=True, sentinel_master=SERVICE, database=3)
    url = f"redis+sentinel://127.0.0.1:{sentinel_group.sentinel_port}/{SERVICE}/3"
    assert _url_of_pool(settings) == url
    assert redis_settings_url(settings) == url
    assert sentinel_group.delivered(url) == 1
