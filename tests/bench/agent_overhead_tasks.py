"""The no-op task of tests/bench/agent-overhead.py, importable by its module path (RQ resolves
jobs by name, and never from __main__). Each run notes when it happened (thread CPU clock)."""

import time

stamps: list[int] = []


def noop(x, name=None):
    stamps.append(time.thread_time_ns())
