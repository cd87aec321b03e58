"""The agent's overhead per engine (BENCHMARKS.md, "Agent overhead"): a no-op task through each
engine in one process, without the agent and with it (delivering to a Redis stream on db 15).

    python3 tests/bench/agent-overhead.py [--rounds 3] [--engines celery,rq,...] [--scale 1.0]

runs every engine in its own virtualenv (.venvs/<engine>), alternating processes without and with
the agent, and prints a table: tasks/s without and with, slowdown, and the median and p99 time a
task costs more. One engine, one process (what the driver spawns):

    .venvs/<engine>/bin/python tests/bench/agent-overhead.py --run <engine> --mode off|on --tasks N

A task's cost is measured where the engine lets us: the whole send + run cycle when the engine
runs a task in the caller (Celery apply, Huey execute, taskiq's in-memory broker), else the send
(timed per call) plus the gap between consecutive runs of a worker draining a pre-filled queue
(RQ SimpleWorker, Dramatiq StubBroker worker, arq burst worker). Brokers stay in memory where the
engine has one (Celery memory://, Dramatiq StubBroker, Huey MemoryHuey, taskiq InMemoryBroker);
RQ and arq need Redis (db 15), so their figures include real Redis round trips."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH_REDIS = os.environ.get("Z4J_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
ENGINES = ("celery", "rq", "dramatiq", "huey", "arq", "taskiq")
TASKS = {"celery": 5000, "rq": 2000, "dramatiq": 5000, "huey": 10000, "arq": 3000, "taskiq": 5000}
WARMUP = 300
ARGS, KWARGS = (42,), {"name": "bench"}  # a no-op task with a small, ordinary call

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_overhead_tasks import noop, stamps  # noqa: E402  (when each run happened, for drained queues)

# Per-task samples are CPU time of the thread running the task: on a shared, busy machine wall
# time mostly measures the neighbours. What the agent's sender thread costs is in the process
# CPU time (and the wall time) of the whole run, measured around the measured phase.
now = time.thread_time_ns
_phase: dict[str, float] = {}


def measured() -> None:
    """Called by each engine's run once warmed up: the measured phase starts now."""
    _phase.update(wall=time.perf_counter(), cpu=time.process_time())


def enable_agent() -> None:
    os.environ.update(Z4J_AGENT_ID="agent-bench", Z4J_AGENT_SECRET="bench-secret", Z4J_PROJECT="bench",
                      Z4J_BROKER_URL=BENCH_REDIS, Z4J_STREAM_MAXLEN="2000")


def gaps(start: int) -> list[int]:
    """Per-task time of a drained queue: the gap before each run (the first from the drain's start)."""
    out, prev = [], start
    for t in stamps:
        out.append(t - prev)
        prev = t
    return out


# ---- one engine, one mode ------------------------------------------------------------------------

def run_celery(n: int, on: bool) -> list[int]:
    from celery import Celery

    app = Celery("bench", broker="memory://")
    app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=False)
    task = app.task(name="bench.noop")(noop)
    if on:
        import z4j_agent.celery

        z4j_agent.celery.install(app)

    def purge() -> None:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("celery")

    def cycle() -> int:
        t0 = now()
        task.apply_async(ARGS, KWARGS)  # published to kombu's in-memory transport (the agent hooks here)
        task.apply(ARGS, KWARGS)  # run as a worker runs it (Celery's own events report the rest)
        return now() - t0

    for _ in range(WARMUP):
        cycle()
    purge()
    measured()
    samples = []
    for i in range(n):
        samples.append(cycle())
        if i % 1000 == 999:
            purge()
    return samples


def run_rq(n: int, on: bool) -> list[int]:
    from redis import Redis
    from rq import Queue, SimpleWorker

    worker_cls = SimpleWorker
    if on:
        import z4j_agent.rq

        z4j_agent.rq.install()
        worker_cls = z4j_agent.rq.Z4jSimpleWorker
    conn = Redis.from_url(BENCH_REDIS)
    q = Queue(f"z4j-bench-{uuid.uuid4().hex[:8]}", connection=conn)
    worker = worker_cls([q], connection=conn)

    def batch(count: int) -> list[int]:
        sends = []
        for _ in range(count):
            t0 = now()
            q.enqueue(noop, *ARGS, **KWARGS, result_ttl=0)
            sends.append(now() - t0)
        stamps.clear()
        t0 = now()
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        return [s + g for s, g in zip(sends, gaps(t0))]

    try:
        batch(WARMUP)
        measured()
        return batch(n)
    finally:
        q.delete(delete_jobs=True)
        conn.delete(*conn.keys(f"rq:*{q.name}*") or ["-"])


def run_dramatiq(n: int, on: bool) -> list[int]:
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    if on:
        import z4j_agent.dramatiq

        broker.add_middleware(z4j_agent.dramatiq.Z4jMiddleware())
    dramatiq.set_broker(broker)
    actor = dramatiq.actor(noop, actor_name="noop", max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=10)

    def batch(count: int) -> list[int]:
        sends = []
        for _ in range(count):
            t0 = now()
            actor.send(*ARGS, **KWARGS)
            sends.append(now() - t0)
        stamps.clear()
        t0 = now()
        worker.start()
        broker.join(actor.queue_name, fail_fast=True)
        worker.stop()
        return [s + g for s, g in zip(sends, gaps(t0))]

    batch(WARMUP)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=10)
    measured()
    return batch(n)


def run_huey(n: int, on: bool) -> list[int]:
    from huey import MemoryHuey

    huey = MemoryHuey("bench", results=False)
    if on:
        import z4j_agent.huey

        z4j_agent.huey.install(huey)
    task = huey.task(name="noop")(noop)

    def cycle() -> int:
        t0 = now()
        task(*ARGS, **KWARGS)  # enqueued (the agent's enqueued event with the payload)
        huey.execute(huey.dequeue())  # what the consumer does with it
        return now() - t0

    for _ in range(WARMUP):
        cycle()
    measured()
    return [cycle() for _ in range(n)]


def run_arq(n: int, on: bool) -> list[int]:
    from arq import Worker, create_pool
    from arq.connections import RedisSettings

    from arq.worker import func

    async def job(ctx, x, name=None):
        stamps.append(now())

    queue = f"z4j-bench-{uuid.uuid4().hex[:8]}"

    class Settings:
        functions = [func(job, name="job")]
        redis_settings = RedisSettings.from_dsn(BENCH_REDIS)
        queue_name = queue

    if on:
        import z4j_agent.arq

        z4j_agent.arq.instrument(Settings)
        z4j_agent.arq.install()

    async def main() -> list[int]:
        pool = await create_pool(Settings.redis_settings, default_queue_name=queue)

        async def batch(count: int) -> list[int]:
            sends = []
            for _ in range(count):
                t0 = now()
                await pool.enqueue_job("job", *ARGS, **KWARGS)
                sends.append(now() - t0)
            stamps.clear()
            worker = Worker(functions=Settings.functions, redis_pool=pool, queue_name=queue, burst=True, poll_delay=0.001,
                            handle_signals=False, keep_result=0, on_startup=getattr(Settings, "on_startup", None),
                            on_shutdown=getattr(Settings, "on_shutdown", None))
            t0 = now()
            await worker.main()
            return [s + g for s, g in zip(sends, gaps(t0))]

        try:
            await batch(WARMUP)
            measured()
            return await batch(n)
        finally:
            keys = await pool.keys(f"*{queue}*")
            if keys:
                await pool.delete(*keys)
            await pool.aclose()

    return asyncio.run(main())


def run_taskiq(n: int, on: bool) -> list[int]:
    from taskiq import InMemoryBroker

    broker = InMemoryBroker(await_inplace=True)  # send runs the task in the caller, through every middleware
    if on:
        import z4j_agent.taskiq

        broker = broker.with_middlewares(z4j_agent.taskiq.Z4jMiddleware())

    async def atask(x, name=None):
        return None

    task = broker.task(task_name="noop")(atask)

    async def main() -> list[int]:
        await broker.startup()

        async def cycle() -> int:
            t0 = now()
            await task.kiq(*ARGS, **KWARGS)
            return now() - t0

        for _ in range(WARMUP):
            await cycle()
        measured()
        out = [await cycle() for _ in range(n)]
        await broker.shutdown()
        return out

    return asyncio.run(main())


def run_one(engine: str, mode: str, n: int) -> dict:
    on = mode == "on"
    if on:
        enable_agent()
    else:
        for k in [k for k in os.environ if k.startswith("Z4J_")]:
            del os.environ[k]
    samples = globals()[f"run_{engine}"](n, on)
    out: dict = {}
    if on:  # everything recorded must have left: the run pays for delivery too
        import z4j_agent

        agent = z4j_agent.get_agent()
        out["delivered"] = agent.flush(60)
        out["agent"] = agent.stats()
    wall, cpu = time.perf_counter() - _phase["wall"], time.process_time() - _phase["cpu"]
    return {"engine": engine, "mode": mode, "tasks": len(samples), "wall_s": wall, "cpu_us_per_task": cpu / len(samples) * 1e6,
            "median_us": statistics.median(samples) / 1e3, "p99_us": quantile(samples, 0.99) / 1e3, **out}


def quantile(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# ---- the driver ------------------------------------------------------------------------------------

def spawn(engine: str, mode: str, n: int) -> dict:
    python = os.path.join(ROOT, ".venvs", engine, "bin", "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("Z4J_")}
    proc = subprocess.run([python, os.path.abspath(__file__), "--run", engine, "--mode", mode, "--tasks", str(n)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run")
    p.add_argument("--mode", default="off")
    p.add_argument("--tasks", type=int, default=0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the number of tasks per run")
    p.add_argument("--json", action="store_true", help="print every run as JSON too")
    a = p.parse_args()
    if a.run:
        print(json.dumps(run_one(a.run, a.mode, a.tasks or TASKS[a.run])))
        return

    print(f"{'engine':9} {'tasks/s off':>11} {'tasks/s on':>10} {'CPU µs/task off':>15} {'on':>6} {'slowdown':>8} {'median +µs':>10} {'p99 +µs':>8}  agent (last run)")
    for engine in a.engines.split(","):
        n = max(100, int(TASKS[engine] * a.scale))
        runs: dict[str, list[dict]] = {"off": [], "on": []}
        for _ in range(a.rounds):  # alternate, so drift on a shared machine hits both alike
            for mode in ("off", "on"):
                runs[mode].append(spawn(engine, mode, n))
        med = lambda mode, key: statistics.median(r[key] for r in runs[mode])  # noqa: E731
        cpu_off, cpu_on = med("off", "cpu_us_per_task"), med("on", "cpu_us_per_task")
        row = {"engine": engine, "tasks": n, "rounds": a.rounds,
               "tasks_per_s_off": round(n / med("off", "wall_s")), "tasks_per_s_on": round(n / med("on", "wall_s")),
               "cpu_us_off": round(cpu_off, 1), "cpu_us_on": round(cpu_on, 1), "slowdown_pct": round((1 - cpu_off / cpu_on) * 100, 1),
               "median_added_us": round(med("on", "median_us") - med("off", "median_us"), 1),
               "p99_added_us": round(med("on", "p99_us") - med("off", "p99_us"), 1),
               "agent": runs["on"][-1].get("agent"), "delivered": all(r.get("delivered") for r in runs["on"])}
        st = row["agent"] or {}
        print(f"{engine:9} {row['tasks_per_s_off']:>11,} {row['tasks_per_s_on']:>10,} {row['cpu_us_off']:>15} {row['cpu_us_on']:>6} {row['slowdown_pct']:>7}% "
              f"{row['median_added_us']:>10} {row['p99_added_us']:>8}  sent {st.get('sent')}, dropped {st.get('dropped')}, errors {st.get('errors')}"
              f"{'' if row['delivered'] else ', NOT all delivered'}", flush=True)
        if a.json:
            print(json.dumps({"row": row, "runs": runs}))
    # The bench stream: nobody consumes it. Through an engine's venv (this driver may run on a bare python3).
    python = os.path.join(ROOT, ".venvs", a.engines.split(",")[0], "bin", "python")
    subprocess.run([python, "-c", f"import redis; redis.Redis.from_url({BENCH_REDIS!r}).delete('z4j:events:bench')"], check=False, timeout=30)


if __name__ == "__main__":
    main()
