import hashlib
import hmac
import json
import threading

from z4j_agent.batch import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, signed_batches
from z4j_agent.buffer import DropOldestBuffer
from conftest import REDIS_URL


def test_buffer_is_bounded_and_drops_oldest_counting():
    b = DropOldestBuffer(5)
    for i in range(8):
        b.put(i)
    assert len(b) == 5 and b.dropped == 3
    assert b.take(10) == [3, 4, 5, 6, 7]


def test_buffer_under_concurrent_producers():
    b = DropOldestBuffer(1000)

    def produce():
        for i in range(5000):
            b.put(i)

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(b) == 1000 and b.dropped == 19000


def test_lock_free_puts_lose_nothing_while_the_sender_takes():
    """Far from full a put is a bare append while the sender pops: every item is taken once, in
    each producer's order, none lost, none dropped."""
    b = DropOldestBuffer(1_000_000)
    taken, done = [], threading.Event()

    def produce(k):
        for i in range(20_000):
            b.put((k, i))

    def sender():
        while not done.is_set() or len(b):
            taken.extend(b.take(1000))

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    t = threading.Thread(target=sender)
    t.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done.set()
    t.join()
    assert b.dropped == 0 and len(taken) == 80_000
    for k in range(4):
        assert [i for kk, i in taken if kk == k] == list(range(20_000))


def test_buffer_stays_bounded_with_many_producers_near_full():
    b = DropOldestBuffer(200)
    over = []

    def produce():
        for i in range(3000):
            b.put(i)
            if len(b) > 200:
                over.append(len(b))

    threads = [threading.Thread(target=produce) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not over and len(b) == 200 and b.dropped == 16 * 3000 - 200


def test_put_back_keeps_the_bound():
    b = DropOldestBuffer(3)
    b.put("new")
    b.put_back(["a", "b", "c"])
    assert b.take(10) == ["b", "c", "new"] and b.dropped == 1


def test_batches_are_signed_over_their_exact_bytes_and_split_by_size_and_count():
    events = [json.dumps({"id": str(i), "fields": {"x": "y" * 2000}}) for i in range(1500)]
    out = signed_batches("agent-1", "s3cret", "default", events, 1, 7)
    assert len(out) >= 3
    total = 0
    for body, sig, count, _end in out:
        assert len(body) <= MAX_BATCH_BYTES
        assert sig == hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        batch = json.loads(body)
        assert batch["agent"] == "agent-1" and batch["project"] == "default" and batch["dropped"] == 7 and len(batch["nonce"]) == 32
        assert len(batch["events"]) <= MAX_BATCH_EVENTS
        assert count == len(batch["events"])
        total += len(batch["events"])
    assert total == 1500


def test_tasks_in_flight_are_counted_exactly_without_a_lock():
    from z4j_agent._common import InFlight

    flight = InFlight()

    def run_tasks():
        for i in range(5000):  # past the tally threshold, which then runs beside the others' appends
            flight.start()
            flight.end(failed=i % 5 == 0)

    threads = [threading.Thread(target=run_tasks) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flight.start()
    assert flight.stats(4) == {"active": 1, "processed": 20000, "failed": 4000, "concurrency": 4}
    flight.end()
    flight.end()  # an end without its start (a hook that missed it) never makes active negative
    assert flight.stats(None) == {"active": 0, "processed": 20002, "failed": 4000}


def test_the_redis_stream_is_bounded_in_events_not_in_batches(redis_client):
    import uuid

    from z4j_agent.transport import RedisStreamTransport

    project = f"bound-{uuid.uuid4().hex[:8]}"
    stream = f"z4j:events:{project}"
    big = RedisStreamTransport(REDIS_URL, "agent-1", project, max_events=10_000)
    try:
        for _ in range(600):  # 600 batches of 500 events: 300,000 events for a bound of 10,000
            big.send(b"{}", "sig", 500)
        # 20 entries hold the bound; Redis trims whole nodes of its stream (100 entries by default) when approximate.
        assert redis_client.xlen(stream) <= 20 + 100
        small = RedisStreamTransport(REDIS_URL, "agent-2", project, max_events=10_000)
        for _ in range(300):  # batches of one event each: the same bound keeps far more of them
            small.send(b"{}", "sig", 1)
        assert 300 <= redis_client.xlen(stream) <= 20 + 100 + 300
        small.close()
    finally:
        big.close()
        redis_client.delete(stream)


def test_buffer_is_bounded_in_bytes_by_the_items_it_can_weigh():
    weigh = lambda item: len(item) if type(item) is str else 0  # noqa: E731
    b = DropOldestBuffer(100, max_bytes=1000, weigh=weigh)
    for i in range(5):
        b.put(i)  # weightless (a task's snapshot): no byte accounting at all
    for i in range(5):
        b.put_weighed(chr(97 + i) * 300)  # the oldest go, weighed or not, until within 1,000
    assert b.bytes <= 1000 and b.take(100) == ["c" * 300, "d" * 300, "e" * 300] and b.bytes == 0
    assert b.dropped == 7
    b.put_back(["x" * 600, "y" * 600])  # a batch that could not be sent, encoded: weighed too
    assert b.bytes == 600 and b.take(10) == ["y" * 600] and b.dropped == 8


def test_an_event_too_big_for_any_batch_is_reported_not_silently_left_out():
    events = ["{}", json.dumps({"x": "y" * MAX_BATCH_BYTES}), "{}"]
    too_big = []
    out = signed_batches("agent-1", "s3cret", "default", events, 1, 0, too_big)
    assert too_big == [1] and [b.events for b in out] == [2] and out[0].end == 3
