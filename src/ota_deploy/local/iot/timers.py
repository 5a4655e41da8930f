"""A heap of deadlines keyed by what they are for, so ``tick()`` costs O(due) not O(executions).

Rescheduling a key replaces its deadline; stale heap entries are skipped lazily when popped.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterator


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._when: dict[Hashable, float] = {}
        self._seq = itertools.count()

    def schedule(self, key: Hashable, when: float) -> None:
        if self._when.get(key) == when:
            return
        self._when[key] = when
        heapq.heappush(self._heap, (when, next(self._seq), key))

    def cancel(self, key: Hashable) -> None:
        self._when.pop(key, None)

    def due(self, now: float) -> Iterator[Hashable]:
        """Pop and yield every key whose deadline is <= now (each at most once)."""
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            if self._when.get(key) == when:
                del self._when[key]
                yield key

    def __len__(self) -> int:
        return len(self._when)
