"""The bounded buffer between hooks and the sender thread: appends never block, the oldest
events go first when it is full, and every loss is counted (and reported in heartbeats)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

# Places at the end of the buffer managed under the lock. Far from full, a put is a bare append
# (atomic under the GIL: no lock, on the path of every event); in the last SLACK places puts take
# the lock and drop the oldest, counting each. A put that found room and appends late adds one
# place: the capacity holds while fewer than SLACK threads do so at once, and a locked put trims
# back to it otherwise.
SLACK = 64


class DropOldestBuffer:
    def __init__(self, capacity: int) -> None:
        self._items: deque[Any] = deque()  # never rebound: a lock-free put appends to the one it read
        self._capacity = capacity
        self._unlocked_below = max(0, capacity - SLACK)
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
                items.popleft()
                self.dropped += 1
            items.append(item)

    def put_back(self, items: list[Any]) -> None:
        """Returns a batch that could not be sent to the front, still within the bound (oldest lost first)."""
        with self._lock:
            room = self._capacity - len(self._items)
            keep = items[-room:] if room > 0 else []
            self.dropped += len(items) - len(keep)
            self._items.extendleft(reversed(keep))

    def take(self, n: int) -> list[Any]:
        """The oldest n items (fewer if there are fewer). Popped one by one, not swapped for a new
        deque: a lock-free put may be appending to this one. Puts never shorten it, so the count
        taken first is there to pop."""
        with self._lock:
            self.ready.clear()
            self._signalled = False
            items = self._items
            pop = items.popleft
            return [pop() for _ in range(min(n, len(items)))]

    def __len__(self) -> int:
        return len(self._items)
