"""Topic names, topic filters and wildcard matching (MQTT 3.1.1 section 4.7).

* ``+`` matches exactly one level, ``#`` (last level only) matches the parent and any number of
  levels below it.
* A filter starting with a wildcard does not match topics starting with ``$`` (``$aws/...``,
  ``$SYS/...``): those must be named explicitly at the first level.

:class:`SubscriptionIndex` stores ``filter -> {subscriber: value}`` and answers "who matches this
topic" with a dict lookup for filters without wildcards and a walk of a small trie for the
others, so routing cost does not grow with the number of exact subscriptions. When wildcard
filters exist, the merged answer per topic is memoised until the next ``add``/``remove``:
subscriptions change at connect time, while a device publishes to and is answered on the same
few topics thousands of times.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_EMPTY: dict[object, object] = {}
_MAX_MEMO = 65_536  # memoised lookups; the memo is simply emptied when full


def valid_topic_name(topic: str) -> bool:
    """A PUBLISH topic: non-empty, no wildcards, no NUL."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\x00" not in topic


def valid_topic_filter(topic_filter: str) -> bool:
    """A SUBSCRIBE filter: ``#`` only as a whole last level, ``+`` only as a whole level."""
    if not topic_filter or "\x00" in topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def has_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` (a topic name) matches ``topic_filter``."""
    if not has_wildcard(topic_filter):
        return topic_filter == topic
    if topic.startswith("$") and topic_filter[0] in "+#":
        return False
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    for i, f in enumerate(f_levels):
        if f == "#":
            return True
        if i >= len(t_levels):
            return False
        if f != "+" and f != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


class _Node(Generic[K, V]):
    __slots__ = ("children", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node[K, V]] = {}
        self.subscribers: dict[K, V] = {}


class SubscriptionIndex(Generic[K, V]):
    """``topic filter -> {subscriber key: value}`` with fast matching of topic names."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[K, V]] = {}
        self._root: _Node[K, V] = _Node()
        self._wildcards = 0
        self._memo: dict[str, dict[K, V]] = {}  # topic -> lookup() answer; emptied on changes

    def add(self, topic_filter: str, key: K, value: V) -> None:
        if self._memo:
            self._memo.clear()
        if not has_wildcard(topic_filter):
            self._exact.setdefault(topic_filter, {})[key] = value
            return
        node = self._root
        for level in topic_filter.split("/"):
            nxt = node.children.get(level)
            if nxt is None:
                nxt = node.children[level] = _Node()
            node = nxt
        if key not in node.subscribers:
            self._wildcards += 1
        node.subscribers[key] = value

    def remove(self, topic_filter: str, key: K) -> bool:
        if self._memo:
            self._memo.clear()
        if not has_wildcard(topic_filter):
            subs = self._exact.get(topic_filter)
            if subs is None or key not in subs:
                return False
            del subs[key]
            if not subs:
                del self._exact[topic_filter]
            return True
        path: list[tuple[_Node[K, V], str]] = []
        node = self._root
        for level in topic_filter.split("/"):
            nxt = node.children.get(level)
            if nxt is None:
                return False
            path.append((node, level))
            node = nxt
        if key not in node.subscribers:
            return False
        del node.subscribers[key]
        self._wildcards -= 1
        for parent, level in reversed(path):  # prune empty branches
            child = parent.children[level]
            if child.subscribers or child.children:
                break
            del parent.children[level]
        return True

    def lookup(self, topic: str) -> dict[K, V]:
        """Subscribers of ``topic`` merged per key with the highest value (do not mutate the
        result: with no wildcard filters it is the index's own dict)."""
        if not self._wildcards:
            exact = self._exact.get(topic)
            return exact if exact is not None else _EMPTY  # type: ignore[return-value]
        memo = self._memo
        merged = memo.get(topic)
        if merged is not None:
            return merged
        exact = self._exact.get(topic)
        merged = dict(exact) if exact else {}
        for key, value in self.match_wildcards(topic):
            prev = merged.get(key)
            if prev is None or value > prev:  # type: ignore[operator]
                merged[key] = value
        if len(memo) >= _MAX_MEMO:
            memo.clear()
        memo[topic] = merged
        return merged

    def match(self, topic: str) -> Iterator[tuple[K, V]]:
        """Every (key, value) whose filter matches ``topic``; a key may appear more than once
        when several of its filters match (callers merge)."""
        exact = self._exact.get(topic)
        if exact:
            yield from exact.items()
        if self._wildcards:
            yield from self.match_wildcards(topic)

    def match_wildcards(self, topic: str) -> Iterator[tuple[K, V]]:
        """(key, value) pairs of the wildcard filters matching ``topic``."""
        levels = topic.split("/")
        dollar = topic.startswith("$")
        stack: list[tuple[_Node[K, V], int]] = [(self._root, 0)]
        n = len(levels)
        while stack:
            node, i = stack.pop()
            allow_wild = not (i == 0 and dollar)
            if allow_wild:
                hash_node = node.children.get("#")
                if hash_node is not None:
                    yield from hash_node.subscribers.items()
            if i == n:
                continue
            child = node.children.get(levels[i])
            if child is not None:
                if i + 1 == n:
                    yield from child.subscribers.items()
                    grand = child.children.get("#")
                    if grand is not None:  # "a/#" matches "a"
                        yield from grand.subscribers.items()
                else:
                    stack.append((child, i + 1))
            if allow_wild:
                plus = node.children.get("+")
                if plus is not None:
                    if i + 1 == n:
                        yield from plus.subscribers.items()
                        grand = plus.children.get("#")
                        if grand is not None:
                            yield from grand.subscribers.items()
                    else:
                        stack.append((plus, i + 1))

    def __len__(self) -> int:
        return sum(len(s) for s in self._exact.values()) + self._wildcards
