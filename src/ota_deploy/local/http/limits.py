"""What one HTTP connection to the local control plane may cost: time, bytes, nesting.

``ControlPlaneServer`` hands these to aiohttp (header sizes, the idle timer, lingering, the
shutdown grace) and applies the rest itself (body deadline and size, JSON depth), so a client
that opens a connection and sends nothing, announces a body and never sends it, sends endless
headers, announces a huge body, or nests JSON 50,000 levels deep gets a 4xx or a closed
connection, in bounded time and memory, never a held socket or a 500.

Why these values (tests pass shorter ones):

* ``header_timeout_s`` = 10 s -- from connect (or the end of the previous response on a
  kept-alive connection) until a complete request head has arrived; aiohttp's keep-alive timer
  is armed at connect and closes a connection that is still waiting for a whole head, so it
  is both the header timeout and the idle timeout. Clients reach the local AWS IoT over
  loopback or a LAN and send their head in one write; botocore's pool (urllib3) checks a
  pooled connection before reusing it, and a close racing a reuse is a ConnectionClosedError
  every botocore retry mode retries. 10 s bounds what a half-open connection holds (one file
  descriptor) while staying far above any real client's head latency.
* ``body_timeout_s`` = 10 s -- a deadline for the whole body once the head announced one
  (Content-Length or chunked); at most ``max_body_bytes`` (1 MiB) in 10 s is 100 KiB/s, far
  below loopback and LAN speeds. Past it the answer is 408 ``RequestTimeoutException`` and the
  connection closes.
* ``max_body_bytes`` = 1 MiB -- aiohttp's own default; the largest body an ``iot`` input can
  need is a 404,600-character policy document (the model's ``PolicyDocument`` max) JSON-escaped.
  A larger Content-Length is answered 413 before a byte of the body is read.
* ``max_line_bytes`` / ``max_field_bytes`` = 8190, ``max_headers`` = 128 -- aiohttp's parser
  limits (as Apache's ``LimitRequestLine``/``LimitRequestFieldSize``): a longer request line
  or header, or more headers, is a 400 and a closed connection, so headers hold at most ~1 MiB.
* ``lingering_s`` = 2 s -- after an early answer (413, 408) aiohttp reads and discards what the
  client still sends for this long so the client can read the answer, then closes.
* ``shutdown_s`` = 2 s -- how long ``stop()`` lets in-flight requests finish before cancelling.

The JSON depth cap is ``jsonsafe.MAX_JSON_DEPTH`` (a property of the decoder, not of a
connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_body_bytes: int = 1024 * 1024
    max_line_bytes: int = 8190
    max_field_bytes: int = 8190
    max_headers: int = 128
    lingering_s: float = 2.0
    shutdown_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("max_body_bytes", "max_line_bytes", "max_field_bytes", "max_headers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.lingering_s < 0 or self.shutdown_s < 0:
            raise ValueError("lingering_s and shutdown_s must not be negative")

    def aiohttp_options(self) -> dict[str, Any]:
        """The keyword arguments aiohttp's ``web.Server`` passes to each ``RequestHandler``."""
        return {
            "keepalive_timeout": self.header_timeout_s,
            "lingering_time": self.lingering_s,
            "max_line_size": self.max_line_bytes,
            "max_field_size": self.max_field_bytes,
            "max_headers": self.max_headers,
        }
