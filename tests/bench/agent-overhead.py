"""The agent's overhead per engine (BENCHMARKS.md, "Agent overhead"): a no-op task through each
engine in one process, without the agent and with it (delivering to a Redis stream on db 15).

    python3 tests/bench/agent-overhead.py [--rounds 3] [--engines celery,rq,...] [--scale 1.0] [--work-us 0]

runs every engine in its own virtualenv (.venvs/<engine>), in turn a process without the agent,
one with it, and one "pair" process (the agent installed, switched off and on in turn: task by
task where a task is one call, batch by batch of 25 where a queue is drained; for Celery, Dramatiq,
Huey and taskiq its hooks are also taken out of the engine while off), and prints a
table: tasks/s without and with, CPU per task and slowdown (from the first two), and the median
and p99 time a task costs more (from the pair runs: both halves see the same moment of a shared
machine). One engine, one process (what the driver spawns):

    .venvs/<engine>/bin/python tests/bench/agent-overhead.py --run <engine> --mode off|on|pair --tasks N

Every engine goes through a real broker, Redis (db 15), which all of them support, and its own
worker loop, as a user runs it: RQ's SimpleWorker, Dramatiq's Worker (one thread), Huey's consumer
Worker, arq's burst Worker, taskiq's Receiver. Celery is the exception: the agent works only where
a task is published (Celery's own events report the rest, the worker is the same with or without
the agent: since b654a9c it has no receiver on a worker's tasks outside solo pools), so its cost
per task is the publish to Redis. A task's cost is the thread CPU of its
send plus, for the worker, the gap before its run (consecutive runs of a worker draining the
queue; Dramatiq adds its consumer thread's gap before it hands the message to the worker thread).
--work-us N makes the task spend N µs of CPU first: the agent's share of a task that does something.
"""

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
TASKS = {"celery": 5000, "rq": 2000, "dramatiq": 3000, "huey": 5000, "arq": 3000, "taskiq": 3000}
WARMUP = 300
ARGS, KWARGS = (42,), {"name": "bench"}  # a no-op task with a small, ordinary call

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_overhead_tasks import noop, set_work, stamps, work  # noqa: E402  (when each run happened, for drained queues)

# Per-task samples are CPU time of the thread running the task: on a shared, busy machine wall
# time mostly measures the neighbours. What the agent's sender thread costs is in the process
# CPU time (and the wall time) of the whole run, measured around the measured phase.
now = time.thread_time_ns
_phase: dict[str, float] = {}
_paired = False  # a "pair" run: the agent installed, switched off and on between batches
# In a pair run, for the engines whose hooks can be taken out and put back between batches: the
# "off" batches run without them, so the pair figure holds what the engine spends calling the
# agent (a Celery signal sent only while it has receivers, one more Dramatiq middleware) as well
# as what the agent spends. Elsewhere (RQ's worker class, arq's wrapped functions) the agent stays
# installed and switched off.
_attach = None
CYCLES = ("celery", "huey")  # a task is one call here (no queue drained): off and on alternate task by task
PAIR_BATCH = 25  # elsewhere, a batch is a queue filled then drained: off and on alternate batch by batch


def before(label: str, count: int) -> int:
    """Called before each batch (returns its size): the measured phase starts after the warm-up;
    in a pair run, the agent is on only for the batches labelled "on"."""
    if "sender" not in _phase:
        _phase["sender"] = sender_cpu()  # before the first batch: from its start (it may not run yet)
    if label != "warm" and "wall" not in _phase:
        _phase.update(wall=time.perf_counter(), cpu=time.process_time())
    if _paired:
        import z4j_agent

        z4j_agent.get_agent().enabled = label != "off"
        if _attach is not None:
            _attach(label != "off")
    return count


def set_attach(attach) -> None:
    """Called by a run_* function that can take the agent's hooks out (used in pair runs only)."""
    global _attach
    _attach = attach if _paired else None


def attach_by_state(save, restore):
    """An `_attach` for hooks kept in the engine's own lists: their state without the agent (saved
    now, before the agent is installed) and with it (saved at the first call), restored in turn."""
    without, installed = save(), []

    def attach(on: bool) -> None:
        if not installed:
            installed.append(save())
        restore(installed[0] if on else without)

    return attach


def attach_list(items: list):
    """`attach_by_state` for hooks kept in one list the engine walks (filled in place, never rebound)."""
    return attach_by_state(lambda: list(items), lambda saved: items.__setitem__(slice(None), saved))


def sender_cpu() -> float:
    """CPU seconds of the agent's sender thread so far (0 before it starts)."""
    import threading

    for t in threading.enumerate():
        if t.name == "z4j-sender" and t.ident is not None:
            try:
                return time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            except OSError:
                return 0.0
    return 0.0


def plan(engine: str, mode: str, n: int) -> list[tuple[str, int]]:
    """The batches of one run: warm-up, then n tasks; in a pair run, batches off and on in turn,
    so that both see the same moment of a shared machine."""
    if mode != "pair":
        return [("warm", WARMUP), ("run", n)]
    size = 1 if engine in CYCLES else PAIR_BATCH
    return [("warm", WARMUP)] + [(label, size) for _ in range(max(1, n // (2 * size))) for label in ("off", "on")]


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


def diffs(values: list[int]) -> list[int]:
    """Gaps between consecutive stamps of one thread; the first (no start on that thread's clock) is left out."""
    return [b - a for a, b in zip(values, values[1:])]


Batches = list[tuple[str, list[int]]]


def each_batch(batches: list[tuple[str, int]], batch) -> Batches:
    """Runs a plan's batches in order (the async runs: the same comprehension, awaiting each batch)."""
    return [(label, batch(before(label, count))) for label, count in batches]


# ---- one engine, one mode: each runs the batches of its plan and returns their samples --------------

def run_celery(batches: list[tuple[str, int]], on: bool) -> Batches:
    from celery import Celery

    app = Celery("bench", broker=BENCH_REDIS)
    app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=False)
    task = app.task(name="bench.noop")(noop)
    queue = f"z4j-bench-{uuid.uuid4().hex[:8]}"
    if on:
        import z4j_agent.celery
        from celery.signals import before_task_publish

        set_attach(attach_list(before_task_publish.receivers))  # filled in place by connect and disconnect
        z4j_agent.celery.install(app)

    def send() -> int:
        # The agent's whole part in Celery (its events report the rest, from the worker): the
        # publish, here to a real Redis broker. Nothing runs the tasks: the queue is deleted.
        t0 = now()
        task.apply_async(ARGS, KWARGS, queue=queue)
        return now() - t0

    def batch(count: int) -> list[int]:
        samples = [send() for _ in range(count)]
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)
        return samples

    try:
        return each_batch(batches, batch)
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)


def run_rq(batches: list[tuple[str, int]], on: bool) -> Batches:
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
        return each_batch(batches, batch)
    finally:
        q.delete(delete_jobs=True)
        conn.delete(*conn.keys(f"rq:*{q.name}*") or ["-"])


def run_dramatiq(batches: list[tuple[str, int]], on: bool) -> Batches:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.middleware import Middleware
    from dramatiq.worker import _ConsumerThread

    broker = RedisBroker(url=BENCH_REDIS, namespace=f"z4j-bench-{uuid.uuid4().hex[:8]}")
    agent_middleware = None
    if on:
        import z4j_agent.dramatiq

        agent_middleware = z4j_agent.dramatiq.Z4jMiddleware()
        broker.add_middleware(agent_middleware)
    acked = [0]
    handed: list[int] = []

    class Acked(Middleware):
        """Counts acks: a batch is done when all its messages are acked."""

        def after_ack(self, broker, message):
            acked[0] += 1

    # Dramatiq's consumer thread fetches and decodes messages and hands them to the worker
    # threads; a worker thread runs a message and acks it (post_process_message, in 1.15 and
    # 2.2 alike: the agent's outcome hooks run there too). So a task's cost is its send, the worker
    # thread's gap before its run, and the consumer thread's gap before it hands the message
    # over, each on its thread's own clock. (Until the nineteenth pass the bench took an
    # after_ack stamp for the consumer's part: it is on the worker thread, which counted that
    # thread twice and the consumer not at all.)
    handle_message = _ConsumerThread.handle_message

    def handing(self, message) -> None:
        handed.append(now())
        handle_message(self, message)

    _ConsumerThread.handle_message = handing
    broker.add_middleware(Acked())
    middleware, every = broker.middleware, list(broker.middleware)  # the list each emit walks (changed while the worker idles)
    set_attach(lambda on: middleware.__setitem__(slice(None), [m for m in every if on or m is not agent_middleware]))
    dramatiq.set_broker(broker)
    actor = dramatiq.actor(noop, actor_name="noop", max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)  # one worker for the whole run, as deployed

    def batch(count: int) -> list[int]:
        stamps.clear()
        handed.clear()
        acked[0] = 0
        sends = []
        for _ in range(count):
            t0 = now()
            actor.send(*ARGS, **KWARGS)
            sends.append(now() - t0)
        while acked[0] < count:
            time.sleep(0.01)
        return [s + g + c for s, g, c in zip(sends, diffs(stamps), diffs(handed))]

    worker.start()
    try:
        return each_batch(batches, batch)
    finally:
        worker.stop()
        broker.flush_all()
        broker.close()


def run_huey(batches: list[tuple[str, int]], on: bool) -> Batches:
    import threading

    from huey import RedisHuey
    from huey.consumer import Worker

    huey = RedisHuey(f"z4j-bench-{uuid.uuid4().hex[:8]}", url=BENCH_REDIS, results=False)
    if on:
        import z4j_agent.huey

        signals, hooks = huey._signal.receivers, huey._post_execute  # Huey's signal receivers and post-execute hooks

        def restore(saved) -> None:
            for name in list(signals):
                signals[name][:] = saved[0].get(name, [])
            hooks.clear()
            hooks.update(saved[1])

        set_attach(attach_by_state(lambda: ({k: list(v) for k, v in signals.items()}, dict(hooks)), restore))
        z4j_agent.huey.install(huey)
    task = huey.task(name="noop")(noop)
    worker = Worker(huey, threading.Event(), default_delay=0.1, max_delay=1.0, backoff=1.15)  # a consumer's worker, its loop run here

    def cycle() -> int:
        t0 = now()
        task(*ARGS, **KWARGS)  # enqueued to Redis (the agent's enqueued event with the payload)
        worker.loop()  # what the consumer's worker does: dequeue from Redis, execute
        return now() - t0

    try:
        return each_batch(batches, lambda count: [cycle() for _ in range(count)])
    finally:
        huey.storage.flush_all()


def run_arq(batches: list[tuple[str, int]], on: bool) -> Batches:
    from arq import Worker, create_pool
    from arq.connections import RedisSettings
    from arq.worker import func

    async def job(ctx, x, name=None):
        work()
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

    async def main() -> Batches:
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
            return [(label, await batch(before(label, count))) for label, count in batches]
        finally:
            keys = await pool.keys(f"*{queue}*")
            if keys:
                await pool.delete(*keys)
            await pool.aclose()

    return asyncio.run(main())


def run_taskiq(batches: list[tuple[str, int]], on: bool) -> Batches:
    from taskiq.receiver import Receiver
    from taskiq_redis import ListQueueBroker

    broker = ListQueueBroker(BENCH_REDIS, queue_name=f"z4j-bench-{uuid.uuid4().hex[:8]}")
    if on:
        import z4j_agent.taskiq

        set_attach(attach_list(broker.middlewares))  # the list the kicker and the receiver walk per message
        broker = broker.with_middlewares(z4j_agent.taskiq.Z4jMiddleware())
    done = asyncio.Event()
    target = [0]

    async def atask(x, name=None):
        work()
        stamps.append(now())
        if len(stamps) >= target[0]:
            done.set()

    task = broker.task(task_name="noop")(atask)

    async def main() -> Batches:
        await broker.startup()

        async def batch(count: int) -> list[int]:
            sends = []
            for _ in range(count):
                t0 = now()
                await task.kiq(*ARGS, **KWARGS)
                sends.append(now() - t0)
            stamps.clear()
            target[0] = count
            done.clear()
            receiver = Receiver(broker, run_startup=False, max_async_tasks=1)  # taskiq's worker loop, one task at a time
            t0 = now()
            await receiver.listen(done)
            return [s + g for s, g in zip(sends, gaps(t0))]

        try:
            return [(label, await batch(before(label, count))) for label, count in batches]
        finally:
            await broker.shutdown()
            await broker.connection_pool.disconnect()

    return asyncio.run(main())


# The agent's own entry points per engine (outermost: the hooks, not what they call), for a "hooks"
# run: the CPU spent inside them, timed one call at a time (each timing adds ~1-2 µs of its own).
HOOKS = {
    "celery": ["z4j_agent.celery:_sender", "z4j_agent.celery:_sending_app", "z4j_agent.celery:_payload", "z4j_agent.core:Agent.task_event"],
    "rq": ["z4j_agent.rq:_link_new_job", "z4j_agent.rq:record_enqueued", "z4j_agent.rq:Z4jWorkerMixin._z4j_started",
           "z4j_agent.rq:Z4jWorkerMixin._z4j_succeeded", "z4j_agent._common:InFlight.start", "z4j_agent._common:InFlight.end"],
    "dramatiq": [f"z4j_agent.dramatiq:Z4jMiddleware.{m}" for m in ("before_enqueue", "after_enqueue", "before_process_message", "after_process_message", "after_ack")],
    "huey": [f"z4j_agent.huey:_HueyAgent.{m}" for m in ("on_enqueued", "on_executing", "post_execute")],
    "arq": ["z4j_agent.arq:_record_enqueued", "z4j_agent.arq:_Worker.started", "z4j_agent.arq:_Worker.finished",
            "z4j_agent._common:InFlight.start", "z4j_agent._common:InFlight.end"],
    "taskiq": [f"z4j_agent.taskiq:Z4jMiddleware.{m}" for m in ("pre_send", "post_send", "pre_execute", "post_execute")],
}
_in_hooks = [0]


def time_hooks(engine: str) -> None:
    import importlib

    def timed(fn):
        def run(*args, **kwargs):
            t0 = now()
            try:
                return fn(*args, **kwargs)
            finally:
                _in_hooks[0] += now() - t0

        return run

    for spec in HOOKS[engine]:
        module, _, attr = spec.partition(":")
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        if hasattr(owner, name):  # an older agent (--ab) may lack an entry point
            setattr(owner, name, timed(getattr(owner, name)))


def run_one(engine: str, mode: str, n: int) -> dict:
    global _paired
    on = mode != "off"
    _paired = mode == "pair"
    if on:
        enable_agent()
    else:
        for k in [k for k in os.environ if k.startswith("Z4J_")]:
            del os.environ[k]
    if mode == "hooks":
        time_hooks(engine)
    batches = [b for b in globals()[f"run_{engine}"](plan(engine, mode, n), on) if b[0] != "warm"]
    out: dict = {}
    if on:  # everything recorded must have left: the run pays for delivery too
        import z4j_agent

        agent = z4j_agent.get_agent()
        agent.enabled = True  # a pair run may end on an "off" batch
        agent.flush(60)
        out["agent"] = agent.stats()
        out["delivered"] = out["agent"]["queued"] == 0 and out["agent"]["sent"] > 0  # it did record, and delivered it all
    wall, cpu = time.perf_counter() - _phase["wall"], time.process_time() - _phase["cpu"]
    if mode == "hooks":  # and the sender thread's own CPU (redacting, serialising, signing, sending), per task
        out["sender_us_per_task"] = (sender_cpu() - _phase.get("sender", 0.0)) / (len(batches[0][1]) + WARMUP) * 1e6
    if mode == "pair":
        pooled = {label: [x for lb, samples in batches if lb == label for x in samples] for label in ("off", "on")}
        return {"engine": engine, "mode": mode, "tasks": len(pooled["on"]),
                "median_added_us": (statistics.median(pooled["on"]) - statistics.median(pooled["off"])) / 1e3,
                "p99_added_us": (quantile(pooled["on"], 0.99) - quantile(pooled["off"], 0.99)) / 1e3, **out}
    samples = batches[0][1]
    if mode == "hooks":
        return {"engine": engine, "mode": mode, "tasks": len(samples), "in_hooks_us_per_task": _in_hooks[0] / (len(samples) + WARMUP) / 1e3, **out}
    return {"engine": engine, "mode": mode, "tasks": len(samples), "wall_s": wall, "cpu_us_per_task": cpu / len(samples) * 1e6,
            "median_us": statistics.median(samples) / 1e3, "p99_us": quantile(samples, 0.99) / 1e3, **out}


def quantile(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# ---- the driver ------------------------------------------------------------------------------------

def spawn(engine: str, mode: str, n: int, agent_src: str | None = None, work_us: int = 0) -> dict:
    """One run in its own process; `agent_src`: a directory holding another z4j_agent package (on
    PYTHONPATH, ahead of the venv's own install), for an A/B of two versions of the agent."""
    python = os.path.join(ROOT, ".venvs", engine, "bin", "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("Z4J_")}
    if agent_src:
        env["PYTHONPATH"] = os.path.abspath(agent_src)
    proc = subprocess.run([python, os.path.abspath(__file__), "--run", engine, "--mode", mode, "--tasks", str(n), "--work-us", str(work_us)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run")
    p.add_argument("--mode", default="off", choices=("off", "on", "pair", "hooks"))
    p.add_argument("--tasks", type=int, default=0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the number of tasks per run")
    p.add_argument("--json", action="store_true", help="print every run as JSON too")
    p.add_argument("--modes", default="off,on,pair,hooks", help="the runs of each round (tasks/s and CPU need off,on)")
    p.add_argument("--ab", metavar="DIR", help="A/B: also run the z4j_agent package under DIR (e.g. an old commit's agent/src, "
                   "exported with git archive), process by process in turn with this tree's, so both meet the same moments "
                   "of a shared machine; one row each, 'engine<' (DIR) and 'engine>' (this tree)")
    p.add_argument("--work-us", type=int, default=0, help="CPU µs each task spends before it returns (default 0: a no-op); "
                   "Celery's figure is its publish, which this does not change")
    a = p.parse_args()
    if a.run:
        set_work(a.work_us)
        print(json.dumps(run_one(a.run, a.mode, a.tasks or TASKS[a.run])))
        return

    print(f"{'engine':9} {'tasks/s off':>11} {'tasks/s on':>10} {'CPU µs/task off':>15} {'on':>6} {'slowdown':>8} {'median +µs':>10} {'p99 +µs':>8} {'in hooks':>8} {'sender':>7}  agent (last run)")
    for engine in a.engines.split(","):
        n = max(100, int(TASKS[engine] * a.scale))
        modes = a.modes.split(",")
        variants = [(f"{engine}<", a.ab), (f"{engine}>", None)] if a.ab else [(engine, None)]
        all_runs: dict[str, dict[str, list[dict]]] = {label: {mode: [] for mode in ("off", "on", "pair", "hooks")} for label, _ in variants}
        for _ in range(a.rounds):  # alternate, so drift on a shared machine hits every mode (and variant) alike
            for mode in modes:
                for label, src in variants:
                    all_runs[label][mode].append(spawn(engine, mode, n, src, a.work_us))
        for label, _ in variants:
            report(label, engine, n, a, all_runs[label])
    # The bench stream: nobody consumes it. Through an engine's venv (this driver may run on a bare python3).
    python = os.path.join(ROOT, ".venvs", a.engines.split(",")[0], "bin", "python")
    subprocess.run([python, "-c", f"import redis; redis.Redis.from_url({BENCH_REDIS!r}).delete('z4j:events:bench')"], check=False, timeout=30)


def report(label: str, engine: str, n: int, a: argparse.Namespace, runs: dict[str, list[dict]]) -> None:
    """Prints one row of the table (and its runs as JSON with --json)."""
    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode]) if runs[mode] else float("nan")

    cpu_off, cpu_on = med("off", "cpu_us_per_task"), med("on", "cpu_us_per_task")
    row = {"engine": engine, "tasks": n, "rounds": a.rounds, "work_us": a.work_us,
           "tasks_per_s_off": n / med("off", "wall_s"), "tasks_per_s_on": n / med("on", "wall_s"),
           "cpu_us_off": cpu_off, "cpu_us_on": cpu_on, "slowdown_pct": (1 - cpu_off / cpu_on) * 100,
           # Added per task: from the pair runs (off and on in one process, in turn), less noisy
           # than the difference between processes, which is kept for comparison.
           "median_added_us": med("pair", "median_added_us"), "p99_added_us": med("pair", "p99_added_us"),
           "median_added_us_between_processes": med("on", "median_us") - med("off", "median_us"),
           "in_hooks_us": med("hooks", "in_hooks_us_per_task"), "sender_us": med("hooks", "sender_us_per_task")}
    # The same from the direct measures (hooks + sender thread, not what else they cost: GIL
    # hand-overs, caches): steadier than the difference between processes on a shared machine.
    row["slowdown_direct_pct"] = (row["in_hooks_us"] + row["sender_us"]) / (cpu_off + row["in_hooks_us"] + row["sender_us"]) * 100
    row = {k: (None if v != v else round(v, 1)) if isinstance(v, float) else v for k, v in row.items()}  # a mode not run: None
    row.update(agent=(runs["on"] or runs["hooks"] or runs["pair"] or [{}])[-1].get("agent"),
               delivered=all(r.get("delivered") for mode in ("on", "pair", "hooks") for r in runs[mode]))
    st = row["agent"] or {}
    cells = [row[k] for k in ("tasks_per_s_off", "tasks_per_s_on", "cpu_us_off", "cpu_us_on", "slowdown_pct", "median_added_us", "p99_added_us", "in_hooks_us", "sender_us")]
    print(f"{label:9} " + " ".join(f"{'-' if c is None else c:>{w}}" for c, w in zip(cells, (11, 10, 15, 6, 8, 10, 8, 8, 7)))
          + f"  sent {st.get('sent')}, dropped {st.get('dropped')}, errors {st.get('errors')}{'' if row['delivered'] else ', NOT all delivered'}", flush=True)
    if a.json:
        print(json.dumps({"row": {**row, "label": label}, "runs": runs}))


if __name__ == "__main__":
    main()
