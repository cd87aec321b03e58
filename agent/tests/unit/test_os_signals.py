"""The agent and the process's signals (z4j_agent.os_signals): its threads leave them to the
threads that handle them (a SIGTERM the kernel handed to one of them left an idle worker's main
thread waiting in its BLPOP, and the worker's stop waiting with it), and its guards let through
what a signal handler raised (RQ's stop, swallowed, left the worker running)."""
import signal
import threading
import traceback

import pytest

from z4j_agent._common import guarded, hook_failed
from z4j_agent.commands import CommandListener
from z4j_agent.os_signals import deliver_again_soon, ignoring_in_the_main_thread, raised_by_a_signal_handler, start_daemon_thread
from z4j_agent.redact import scrub

from conftest import REDIS_URL, blocked_signals
from test_agent import make_agent, project  # noqa: F401  (a fixture)

# What workers and their managers send: stop (systemd, pools, Ctrl-C), Celery's soft time limit
# and restart, RQ's job timeout, RQ's worker-pool stop, a child's exit.
SENT_TO_THE_PROCESS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGCHLD, signal.SIGRTMIN}
# What a thread raises itself stays with it (blocked, a fault would kill the process unhandled).
RAISED_BY_THE_THREAD = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT, signal.SIGPIPE}


def test_a_background_thread_blocks_the_process_signals_and_its_starter_keeps_its_own():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    release = threading.Event()
    thread = start_daemon_thread(lambda: release.wait(5), "z4j-test")
    try:
        blocked = blocked_signals(thread)
        assert SENT_TO_THE_PROCESS <= blocked, SENT_TO_THE_PROCESS - blocked
        assert not blocked & RAISED_BY_THE_THREAD, blocked & RAISED_BY_THE_THREAD
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    finally:
        release.set()
        thread.join(5)


def test_the_sender_heartbeat_and_command_threads_take_no_process_signal(redis_client, project):  # noqa: F811
    agent = make_agent(project)
    agent.worker_event("celery", "worker-online", "w1")  # the first event starts the sender
    stop_heartbeat = agent.start_heartbeat("celery", "w1", lambda: {})
    listener = CommandListener(agent, "celery", "w1", REDIS_URL, {"echo": lambda args: args}, client=redis_client)
    stop_commands = listener.start()
    try:
        agents = {"z4j-sender", "z4j-heartbeat", "z4j-commands"}
        threads = [t for t in threading.enumerate() if t.name in agents and t.is_alive()]
        assert {t.name for t in threads} == agents, [t.name for t in threads]
        for thread in threads:
            assert signal.SIGTERM in blocked_signals(thread), f"{thread.name} takes SIGTERM"
    finally:
        stop_commands()
        stop_heartbeat()


class Stop(Exception):
    """What RQ's stop and job timeout, Celery's soft time limit raise from their signal handlers:
    an Exception, not a BaseException."""


class Worker:
    def request_stop(self, signum, frame):
        """As RQ's: installs the next handler, then raises."""
        signal.signal(signal.SIGALRM, self.request_force_stop)
        self.shutdown()

    def shutdown(self):
        raise Stop("the host's handler")

    def request_force_stop(self, signum, frame):
        raise SystemExit()


def a_function(signum, frame):
    raise Stop("the host's handler")


def takes_anything(*args):
    raise Stop("the host's handler")


SWAPS_HANDLERS_FIRST = "a method that swaps handlers first"


@pytest.fixture(params=[SWAPS_HANDLERS_FIRST, "a function", "a function of *args"])
def alarm_raises_stop(request):
    """SIGALRM's handler raises Stop, as RQ's stop and job timeout do; `alarm(seconds)` arms it."""
    handler = {SWAPS_HANDLERS_FIRST: Worker().request_stop, "a function": a_function, "a function of *args": takes_anything}[request.param]
    before = signal.signal(signal.SIGALRM, handler)
    yield lambda seconds: signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, before)


def test_an_exception_raised_with_the_signature_of_a_handler_is_not_taken_for_one():
    def looks_like_a_handler(signum, frame):
        raise Stop("called by the agent's own code")

    with pytest.raises(Stop) as raised:
        looks_like_a_handler(14, None)
    assert not raised_by_a_signal_handler(raised.value)


def test_a_guard_lets_through_what_a_signal_handler_raised_and_swallows_the_rest(alarm_raises_stop):
    @guarded
    def hook_that_waits():
        threading.Event().wait(5)  # as the agent's Redis read or flush waits, where RQ's stop lands

    @guarded
    def hook_that_breaks():
        raise Stop("the agent's own bug, of the same type")

    alarm_raises_stop(0.05)
    with pytest.raises(Stop, match="the host's handler"):
        hook_that_waits()
    assert hook_that_breaks() is None


def test_a_hot_hook_that_catches_its_own_lets_it_through_too(alarm_raises_stop):
    def hot_hook():
        try:
            threading.Event().wait(5)
        except Exception:
            hook_failed("hot_hook")

    alarm_raises_stop(0.05)
    with pytest.raises(Stop):
        hot_hook()


class SlowRepr:
    """A value whose repr waits: where the signal lands while the agent reads it."""

    def __repr__(self):
        threading.Event().wait(5)
        return "never"


def test_redaction_lets_it_through_from_a_value_it_reads(alarm_raises_stop):
    alarm_raises_stop(0.05)
    with pytest.raises(Stop):
        scrub({"a": [SlowRepr()]})


def test_recording_an_event_lets_it_through(alarm_raises_stop, project):  # noqa: F811
    agent = make_agent(project)
    alarm_raises_stop(0.05)
    with pytest.raises(Stop):
        agent.task_event("celery", "succeeded", "t1", fields={"result": SlowRepr()})


def test_a_signal_raised_in_a_hook_whose_host_drops_its_exceptions_is_delivered_again_after_it(alarm_raises_stop, request):
    """Celery's Signal.send logs and drops what a receiver raises: the soft time limit landing in
    the agent's receiver was lost. The signal comes again once the hook returned, from a thread
    of the agent's (to the main thread); not for a handler that installed its next one first,
    which a second signal would not run (RQ's stop: the second is a forced stop)."""
    swaps = request.node.callspec.params["alarm_raises_stop"] == SWAPS_HANDLERS_FIRST
    delivered_again = []

    def receiver_whose_host_drops_what_it_raises():
        try:
            threading.Event().wait(5)  # where the signal lands
        except Exception as caught:
            delivered_again.append(deliver_again_soon(caught, delay=0.05))

    alarm_raises_stop(0.05)
    if swaps:
        receiver_whose_host_drops_what_it_raises()  # returns: the host carries on
        assert delivered_again == [False]
        assert signal.getsignal(signal.SIGALRM).__name__ == "request_force_stop"
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # not sent again: nothing may come (a forced stop would)
        assert not any(t.name == "z4j-signal-again" for t in threading.enumerate())
        return
    # The signal comes again 50 ms after the hook returned, wherever the task is then (on a loaded
    # machine that may be before the wait below).
    with pytest.raises(Stop, match="the host's handler") as raised:
        receiver_whose_host_drops_what_it_raises()  # returns: the host carries on
        threading.Event().wait(5)  # the task, where it is once the hook has returned
    assert delivered_again == [True]
    assert "receiver_whose_host_drops_what_it_raises" not in [f.name for f in traceback.extract_tb(raised.tb)]


def test_an_exception_no_signal_handler_raised_is_not_delivered_again():
    try:
        raise Stop("the agent's own bug")
    except Stop as caught:
        assert not deliver_again_soon(caught)


def test_a_signal_ignored_for_a_while_in_the_main_thread_is_dropped_then_handled_as_before():
    import os

    caught = []

    def handler(signum, frame):
        caught.append(signum)

    before = signal.signal(signal.SIGUSR2, handler)
    try:
        with ignoring_in_the_main_thread(signal.SIGUSR2):
            os.kill(os.getpid(), signal.SIGUSR2)
            assert signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN
        assert caught == []  # dropped, not held until the block ends
        assert signal.getsignal(signal.SIGUSR2) is handler
        os.kill(os.getpid(), signal.SIGUSR2)
        assert caught == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, before)


def test_ignoring_a_signal_outside_the_main_thread_changes_nothing():
    seen = []

    def look():
        with ignoring_in_the_main_thread(signal.SIGUSR2):
            seen.append(signal.getsignal(signal.SIGUSR2))

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(5)
    assert seen == [signal.getsignal(signal.SIGUSR2)]
