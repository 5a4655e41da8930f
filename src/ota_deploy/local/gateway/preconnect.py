"""The memory connections may hold before they have sent a complete CONNECT (sans-I/O).

Data flow: after each read of a connection still waiting for its CONNECT, the connection
(``connection.py``) reports how many bytes of an unfinished packet its parser holds;
``PreConnectBudget.claim`` says whether that still fits. The first ``free_per_connection``
bytes of every connection are free (a CONNECT is normally well under 1 KiB); what a connection
holds beyond that comes out of one budget shared by all connections of the gateway. A
connection that does not fit is closed at once, and its bytes are released; so is the claim
of a connection that completes its CONNECT or goes away.

Why a shared budget rather than a small cap per connection: a legitimate CONNECT may be large
(a Last Will carries up to a full PUBLISH payload, 128 KB on AWS IoT), so each connection keeps
the full packet size limit, while many connections that stall in the middle of a large
CONNECT -- 1,000 connections each sending 190 KB used to hold 207 MB until the connect timeout
-- together hold at most ``total`` bytes beyond the free allowance. Defaults:
``DEFAULT_FREE`` 4 KiB per connection, ``DEFAULT_TOTAL`` 8 MiB for the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_FREE = 4 * 1024
DEFAULT_TOTAL = 8 * 1024 * 1024


@dataclass
class PreConnectBudget:
    total: int = DEFAULT_TOTAL
    free_per_connection: int = DEFAULT_FREE
    in_use: int = 0  # bytes claimed beyond the free allowances, all connections together
    refused: int = 0  # connections closed because they did not fit

    def claim(self, held: int, buffered: int) -> int | None:
        """A connection that had claimed ``held`` bytes now buffers ``buffered``: its new
        claim, or None when it does not fit (close it, then ``release(held)``)."""
        want = max(0, buffered - self.free_per_connection)
        if want > held and self.in_use - held + want > self.total:
            self.refused += 1
            return None
        self.in_use += want - held
        return want

    def release(self, held: int) -> None:
        """The connection completed its CONNECT or went away: its claim is free again."""
        self.in_use -= held
