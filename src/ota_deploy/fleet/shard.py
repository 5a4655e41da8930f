"""Which things a host (``fleet run --shard K/N``) or a worker process simulates.

Two ways to split a thing list, each for its own purpose:

- across hosts (``in_shard`` / ``shard_of``): by a stable hash of the thing NAME, so every
  host computes the same answer from the same list whatever its order, Python version or
  ``PYTHONHASHSEED`` (blake2b, not ``hash()``). Shards 1..N of one list cover every thing
  exactly once.
- across the worker processes of one host (``split_even``): round-robin by position, so
  workers get equal shares (a hash would leave them a few percent apart).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N; ``ValueError`` saying what is wrong."""
    k_text, sep, n_text = text.partition("/")
    try:
        if not sep:
            raise ValueError
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise ValueError(f"expected K/N such as 1/4, got {text!r}") from None
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_of(thing: str, shards: int) -> int:
    """The shard (1..shards) that ``thing`` belongs to, the same on every host."""
    digest = hashlib.blake2b(thing.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards + 1


def in_shard(things: Sequence[str], k: int, n: int) -> list[str]:
    """The things of shard ``k`` of ``n``, in list order."""
    if n == 1:
        return list(things)
    return [t for t in things if shard_of(t, n) == k]


def split_even(things: Sequence[str], parts: int) -> list[list[str]]:
    """``things`` dealt round-robin into at most ``parts`` non-empty lists."""
    if not things:
        return []
    parts = max(1, min(parts, len(things)))
    return [list(things[i::parts]) for i in range(parts)]
