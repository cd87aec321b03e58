"""The agent and the process's signals: its threads take none, and its guards never swallow what
a signal handler raised.

The kernel hands a signal sent to a process (a SIGTERM from systemd or a worker pool, the SIGALRM
of RQ's job timeout, the SIGUSR1 of Celery's soft time limit) to any one of its threads that does
not block it, not always the main one. Python then runs the handler in the main thread, but only
once that thread runs Python code again: a worker waiting in a BLPOP, or a job in a sleep, is not
woken, and its stop or its time limit waits for the call to return (minutes, for an idle RQ
worker in its BLMOVE: one CI run's `rq worker-pool` never stopped a worker so). A thread started
here blocks those signals, so they always reach a thread that handles them.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import threading
from types import FrameType
from typing import Callable, Iterator

# The signals a thread raises itself (a fault, a write to a closed socket, an abort) belong to that
# thread: blocked, a fault would kill the process with no handler run, a SIGPIPE would stay pending.
# SIGKILL and SIGSTOP cannot be blocked at all.
_RAISED_BY_THE_THREAD = {
    getattr(signal, name)
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS", "SIGABRT", "SIGPIPE", "SIGXFSZ", "SIGKILL", "SIGSTOP")
    if hasattr(signal, name)
}


# The signals kept out of background threads (read once: valid_signals() costs ~70 µs, and an RQ
# work horse starts a sender per job).
PROCESS_SIGNALS = frozenset(signal.valid_signals()) - _RAISED_BY_THE_THREAD


@contextlib.contextmanager
def threads_without_process_signals() -> Iterator[None]:
    """Threads started inside take none of the process's signals (a thread inherits the signal
    mask of the thread that starts it). A signal arriving meanwhile waits, and is handled as the
    block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no masks, no such signals
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, PROCESS_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def start_daemon_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread running `target` that takes none of the process's signals."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    with threads_without_process_signals():
        thread.start()
    return thread


def raised_by_a_signal_handler(err: BaseException) -> bool:
    """Whether a Python signal handler raised `err`. Python runs handlers in the main thread at
    whatever line it is on, the agent's too, and some raise an Exception to end what runs: RQ's
    stop (StopRequested) and job timeout (JobTimeoutException), Celery's soft time limit.
    Swallowed by a guard of the agent's, the worker ran on past its stop (`rq worker-pool` hung)
    and a job past its time limit. Known by the call, not by the handlers installed now: RQ's
    stop installs its next handler before it raises. Only asked once something failed."""
    tb = err.__traceback__
    while tb is not None:
        if _called_for_a_signal(tb.tb_frame):
            return True
        tb = tb.tb_next
    return False


def _called_for_a_signal(frame: FrameType) -> bool:
    """Python calls a handler as handler(signum, frame), `frame` being the frame the signal
    interrupted: the handler's own caller. Nothing else passes a function its caller's frame."""
    caller, code = frame.f_back, frame.f_code
    if caller is None:
        return False
    if code.co_argcount >= 2:  # the last two positional parameters: after a bound method's self
        signum_name, frame_name = code.co_varnames[code.co_argcount - 2 : code.co_argcount]
        local = frame.f_locals
        signum, interrupted = local.get(signum_name), local.get(frame_name)
    elif code.co_flags & inspect.CO_VARARGS:  # handler(*args)
        args = frame.f_locals.get(code.co_varnames[code.co_argcount + code.co_kwonlyargcount], ())
        if len(args) != 2:
            return False
        signum, interrupted = args
    else:  # no room for (signum, frame): read no locals
        return False
    return interrupted is caller and isinstance(signum, int)


def reraise_if_from_a_signal_handler(err: BaseException) -> None:
    """For the agent's `except Exception` blocks on a task's or a worker's thread: what a signal
    handler raised is the host's and goes on."""
    if raised_by_a_signal_handler(err):
        raise err
