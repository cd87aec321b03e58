"""The no-op task of tests/bench/agent-overhead.py, importable by its module path (RQ resolves
jobs by name, and never from __main__). Each run notes when it happened (thread CPU clock).
With --work-us, each run first spends that much CPU: a task that does something."""

import time

stamps: list[int] = []
_work_steps = [0]  # set by set_work (--work-us)


def _compute(steps: int) -> int:
    """Plain Python arithmetic: CPU work without system calls. (A loop on the thread's CPU clock
    would make a system call per turn, and with them the kernel's cache and TLB flushes, which
    slowed the engine and the agent around it by half again.)"""
    total = 0
    for i in range(steps):
        total += i * i
    return total


def set_work(us: int) -> None:
    """Each run will first compute for about `us` µs of CPU, measured here (the best of five)."""
    if us <= 0:
        _work_steps[0] = 0
        return
    probe = 200_000
    best = min(_timed(probe) for _ in range(5))
    _work_steps[0] = max(1, round(probe * us * 1000 / best))


def _timed(steps: int) -> int:
    start = time.thread_time_ns()
    _compute(steps)
    return time.thread_time_ns() - start


def work() -> None:
    if _work_steps[0]:
        _compute(_work_steps[0])


def noop(x, name=None):
    work()
    stamps.append(time.thread_time_ns())
