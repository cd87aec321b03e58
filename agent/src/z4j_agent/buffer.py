"""The bounded buffer between hooks and the sender thread: appends never block, the oldest
events go first when it is full, and every loss is counted (and reported in heartbeats)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

# Places at the end of the buffer managed under the lock. Far from full, a put is a bare append
# (atomic under the GIL: no lock, on the path of every event); in the last SLACK places puts take
# the lock and drop the oldest, counting each. A put that found room and appends late adds one
# place: the capacity holds while fewer than SLACK threads do so at once, and a locked put trims
# back to it otherwise.
SLACK = 64


def _weightless(item: Any) -> int:
    return 0


class DropOldestBuffer:
    """Bounded in items and, for the items whose size is known (`weigh`), in bytes: those are put
    with `put_weighed` or `put_back`; the others (most: a task's snapshot, sized by nothing
    cheaper than encoding it) weigh nothing and cost the bound no work."""

    def __init__(self, capacity: int, max_bytes: int = 0, weigh: Callable[[Any], int] = _weightless) -> None:
        self._items: deque[Any] = deque()  # never rebound: a lock-free put appends to the one it read
        self._capacity = capacity
        self._unlocked_below = max(0, capacity - SLACK)
        self._max_bytes = max_bytes  # 0: no bound in bytes
        self._weigh = weigh
        self.bytes = 0  # what the weighed items in it weigh; 0 means none is (nothing to weigh at take)
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self._signalled = False  # ready was set since the last take: `Event.is_set` is a Python call per put
        self.dropped = 0

    def put(self, item: Any) -> None:
        items = self._items
        if len(items) < self._unlocked_below:
            items.append(item)
        else:
            self._put_near_full(item)
        if not self._signalled:  # set() takes a lock and notifies: once per wake-up is enough (take() clears it)
            self._signalled = True
            self.ready.set()

    def _put_near_full(self, item: Any) -> None:
        with self._lock:
            items = self._items
            while len(items) >= self._capacity:
                self._drop_oldest()
            items.append(item)

    def put_weighed(self, item: Any) -> None:
        """A put of an item that weighs something (`weigh`): counted against the byte bound, the
        oldest dropped (and counted) while the buffer weighs more."""
        with self._lock:
            items = self._items
            while len(items) >= self._capacity:
                self._drop_oldest()
            items.append(item)
            self.bytes += self._weigh(item)
            self._keep_within_bytes()
        if not self._signalled:
            self._signalled = True
            self.ready.set()

    def put_back(self, items: list[Any]) -> None:
        """Returns a batch that could not be sent to the front, still within the bounds (oldest lost first)."""
        with self._lock:
            room = self._capacity - len(self._items)
            keep = items[-room:] if room > 0 else []
            self.dropped += len(items) - len(keep)
            self._items.extendleft(reversed(keep))
            self.bytes += sum(map(self._weigh, keep))
            self._keep_within_bytes()

    def count_lost(self, n: int) -> None:
        """Items lost elsewhere (the sender could not send them), counted with those dropped here."""
        with self._lock:
            self.dropped += n

    def _drop_oldest(self) -> None:
        """Under the lock."""
        item = self._items.popleft()
        self.dropped += 1
        if self.bytes:
            self.bytes = max(0, self.bytes - self._weigh(item))

    def _keep_within_bytes(self) -> None:
        """Under the lock. The newest item stays, whatever it weighs (one is within a batch's size)."""
        if self._max_bytes:
            while self.bytes > self._max_bytes and len(self._items) > 1:
                self._drop_oldest()

    def take(self, n: int) -> list[Any]:
        """The oldest n items (fewer if there are fewer). Popped one by one, not swapped for a new
        deque: a lock-free put may be appending to this one. Puts never shorten it, so the count
        taken first is there to pop."""
        with self._lock:
            self.ready.clear()
            self._signalled = False
            items = self._items
            pop = items.popleft
            taken = [pop() for _ in range(min(n, len(items)))]
            if self.bytes:  # only while weighed items are in it (after a failed send, or a big payload)
                self.bytes = max(0, self.bytes - sum(map(self._weigh, taken)))
            return taken

    def __len__(self) -> int:
        return len(self._items)
