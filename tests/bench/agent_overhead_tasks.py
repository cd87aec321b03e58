"""The no-op task of tests/bench/agent-overhead.py, importable by its module path (RQ resolves
jobs by name, and never from __main__). Each run notes when it happened (thread CPU clock).
With --work-us, each run first spends that much CPU: a task that does something."""

import time

stamps: list[int] = []
work_ns = [0]  # set by the bench (--work-us)


def work() -> None:
    """Spins the task's thread for work_ns of its CPU time (nothing when 0: the no-op)."""
    if work_ns[0]:
        end = time.thread_time_ns() + work_ns[0]
        while time.thread_time_ns() < end:
            pass


def noop(x, name=None):
    work()
    stamps.append(time.thread_time_ns())
