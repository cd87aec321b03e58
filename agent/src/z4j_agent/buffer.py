"""The bounded buffer between hooks and the sender thread: appends never block, the oldest
events go first when it is full, and every loss is counted (and reported in heartbeats)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class DropOldestBuffer:
    def __init__(self, capacity: int) -> None:
        self._items: deque[Any] = deque()
        self._capacity = capacity
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
        if not self.ready.is_set():  # set() takes a lock and notifies: once per wake-up is enough (take() clears it)
            self.ready.set()

    def put_back(self, items: list[Any]) -> None:
        """Returns a batch that could not be sent to the front, still within the bound (oldest lost first)."""
        with self._lock:
            room = self._capacity - len(self._items)
            keep = items[-room:] if room > 0 else []
            self.dropped += len(items) - len(keep)
            self._items.extendleft(reversed(keep))

    def take(self, n: int) -> list[Any]:
        with self._lock:
            if len(self._items) <= n:  # all of it (the usual take): the lock held for a swap, not n pops
                taken, self._items = self._items, deque()
                self.ready.clear()
            else:
                taken = deque(self._items.popleft() for _ in range(n))
        return list(taken)

    def __len__(self) -> int:
        return len(self._items)
