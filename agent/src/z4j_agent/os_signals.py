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
import time
from types import CodeType, FrameType
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


@contextlib.contextmanager
def ignoring_in_the_main_thread(signum: int) -> Iterator[None]:
    """`signum` ignored inside, then its handler as before: for a goodbye the process's own
    machinery would cut short (see huey._HueyAgent.offline). Only the main thread sets handlers;
    elsewhere, or where the handler was not set from Python (it could not be put back), nothing
    changes. A signal arriving inside is dropped, so keep what runs inside bounded."""
    before = None
    if threading.current_thread() is threading.main_thread():
        try:
            before = signal.getsignal(signum)
            if before is not None:
                signal.signal(signum, signal.SIG_IGN)
        except (ValueError, OSError):  # no such signal here, or not settable
            before = None
    try:
        yield
    finally:
        if before is not None:
            signal.signal(signum, before)


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
    return _handler_that_raised(err) is not None


def _handler_that_raised(err: BaseException) -> tuple[int, CodeType] | None:
    """The signal and the handler's code, for an exception a signal handler raised."""
    tb = err.__traceback__
    while tb is not None:
        signum = _signal_of_a_handler_call(tb.tb_frame)
        if signum is not None:
            return signum, tb.tb_frame.f_code
        tb = tb.tb_next
    return None


def _signal_of_a_handler_call(frame: FrameType) -> int | None:
    """The signal, when `frame` is a handler's call. Python calls a handler as handler(signum,
    frame), `frame` being the frame the signal interrupted: the handler's own caller. Nothing
    else passes a function its caller's frame."""
    caller, code = frame.f_back, frame.f_code
    if caller is None:
        return None
    if code.co_argcount >= 2:  # the last two positional parameters: after a bound method's self
        signum_name, frame_name = code.co_varnames[code.co_argcount - 2 : code.co_argcount]
        local = frame.f_locals
        signum, interrupted = local.get(signum_name), local.get(frame_name)
    elif code.co_flags & inspect.CO_VARARGS:  # handler(*args)
        args = frame.f_locals.get(code.co_varnames[code.co_argcount + code.co_kwonlyargcount], ())
        if len(args) != 2:
            return None
        signum, interrupted = args
    else:  # no room for (signum, frame): read no locals
        return None
    return signum if interrupted is caller and isinstance(signum, int) else None


# How long after the hook's return a dropped signal comes again: past the host's except block.
AGAIN_AFTER = 0.005


def deliver_again_soon(err: BaseException, delay: float = AGAIN_AFTER) -> bool:
    """For the agent's hooks whose host drops what they raise (Celery's signal receivers:
    Signal.send logs a receiver's exception and goes on). What a signal handler raised inside
    one would be lost there: Celery's soft time limit (SIGUSR1) landing in the agent's
    before_task_publish receiver, while a task publishes another, let the task run on to its
    hard limit, or forever without one. So the signal is sent to the main thread again `delay`
    seconds later, from a thread of its own: once the receiver has returned, the handler raises
    wherever the task is then. Only while the handler that raised is still the one installed: a
    handler that installed its next one first (RQ's stop: a second SIGTERM is a forced stop) is
    not the one a second signal would run. Returns whether the signal is sent again."""
    found = _handler_that_raised(err)
    return found is not None and _send_again(*found, delay)


def _send_again(signum: int, code: CodeType, delay: float) -> bool:
    if not hasattr(signal, "pthread_kill"):
        return False
    installed = signal.getsignal(signum)
    if getattr(getattr(installed, "__func__", installed), "__code__", None) is not code:
        return False
    main = threading.main_thread().ident

    def send_again() -> None:
        time.sleep(delay)
        with contextlib.suppress(Exception):  # the process is ending: its main thread is gone
            signal.pthread_kill(main, signum)

    try:
        start_daemon_thread(send_again, "z4j-signal-again")
    except RuntimeError:  # no new thread at interpreter shutdown
        return False
    return True


def reraise_if_from_a_signal_handler(err: BaseException) -> None:
    """For the agent's `except Exception` blocks on a task's or a worker's thread: what a signal
    handler raised is the host's and goes on."""
    if raised_by_a_signal_handler(err):
        raise err


def reraise_unless_delivered_again(err: BaseException) -> None:
    """reraise_if_from_a_signal_handler for the `except Exception` blocks of hooks whose host
    drops what they raise (Celery's signal receivers): what a signal handler raised is delivered
    again once the hook returned (deliver_again_soon), or, when its handler cannot run again,
    raised, for the host to log."""
    found = _handler_that_raised(err)
    if found is not None and not _send_again(*found, AGAIN_AFTER):
        raise err
