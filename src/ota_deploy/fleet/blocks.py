"""Block bookkeeping for one file download: which blocks are missing, the next request, digests.

Pure (no I/O). Blocks may arrive in any order and more than once. The assembler hashes the
contiguous prefix as it grows (md5, and sha256 when a signature must be checked) and keeps only
out-of-order blocks in memory, so a thousand devices downloading 256 KiB each do not hold
256 MiB of images: the digests are what the device verifies against the job document.

Resuming after a dropped connection is just asking again for ``missing`` blocks: the bitmap of
what is held survives the link.
"""

from __future__ import annotations

import hashlib

from ota_deploy.fleet.protocol import make_bitmap


class BlockError(ValueError):
    """A block that cannot belong to the file (bad index or length)."""


class BlockAssembler:
    """Tracks received blocks of a file of ``size`` bytes in ``block_size`` blocks."""

    __slots__ = (
        "_first_missing",
        "_have",
        "_md5",
        "_next_hash",
        "_pending",
        "_sha256",
        "block_size",
        "received_blocks",
        "received_bytes",
        "size",
        "total_blocks",
    )

    def __init__(self, size: int, block_size: int, *, want_sha256: bool = False) -> None:
        if size < 0 or block_size <= 0:
            raise ValueError("size must be >= 0 and block_size > 0")
        self.size = size
        self.block_size = block_size
        self.total_blocks = (size + block_size - 1) // block_size
        self._have = bytearray(self.total_blocks)
        self._pending: dict[int, bytes] = {}  # out-of-order blocks not yet hashed
        self._next_hash = 0  # first block index not yet fed to the digests
        self._first_missing = 0
        self.received_blocks = 0
        self.received_bytes = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256() if want_sha256 else None

    def expected_length(self, index: int) -> int:
        if index == self.total_blocks - 1:
            return self.size - index * self.block_size
        return self.block_size

    def has(self, index: int) -> bool:
        return bool(self._have[index])

    @property
    def complete(self) -> bool:
        return self.received_blocks == self.total_blocks

    def add(self, index: int, data: bytes) -> bool:
        """Store block ``index``; False if it was already held. Raises ``BlockError``.

        Called once per block of every download: the digests are fed straight from ``data``
        when it is the next block in order (the usual case), without a copy."""
        total = self.total_blocks
        if not 0 <= index < total:
            raise BlockError(f"block {index} is outside 0..{total - 1}")
        have = self._have
        if have[index]:
            return False
        size = len(data)
        if size != (self.block_size if index != total - 1 else self.expected_length(index)):
            raise BlockError(
                f"block {index} has {size} bytes, expected {self.expected_length(index)}"
            )
        have[index] = 1
        self.received_blocks += 1
        self.received_bytes += size
        if index == self._next_hash:
            self._feed(data)
            pending = self._pending
            while pending and self._next_hash in pending:
                self._feed(pending.pop(self._next_hash))
        else:
            self._pending[index] = data
        if index == self._first_missing:  # else the first missing block is still missing
            first = index + 1
            while first < total and have[first]:
                first += 1
            self._first_missing = first
        return True

    def _feed(self, data: bytes) -> None:
        self._md5.update(data)
        if self._sha256 is not None:
            self._sha256.update(data)
        self._next_hash += 1

    def next_window(self, max_blocks: int) -> tuple[int, int, bytes] | None:
        """The next request: ``(offset, count, bitmap)`` over at most ``max_blocks`` blocks.

        The window starts at the first missing block; the bitmap marks the missing ones in it,
        so a re-request after a loss asks only for what is missing. None when complete.
        """
        if self.complete:
            return None
        start = self._first_missing
        end = min(start + max(1, max_blocks), self.total_blocks)
        if end - start == 1:  # one block per request (the OTA agent's default)
            return start, 1, b"\x01"
        wanted = [i for i in range(start, end) if not self._have[i]]
        return start, end - start, make_bitmap(wanted, start)

    def window_done(self, offset: int, count: int) -> bool:
        """Whether every block of a requested window is held."""
        end = min(offset + count, self.total_blocks)
        return self._have.find(0, offset, end) < 0  # no 0 (missing) byte in the window

    def md5_hex(self) -> str:
        """md5 of the whole file; only valid once ``complete``."""
        if not self.complete:
            raise BlockError("file incomplete")
        return self._md5.hexdigest()

    def sha256_digest(self) -> bytes | None:
        if not self.complete:
            raise BlockError("file incomplete")
        return self._sha256.digest() if self._sha256 is not None else None
