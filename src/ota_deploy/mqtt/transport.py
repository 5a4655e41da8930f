"""The asyncio plumbing both ends of an MQTT link share (the client and the gateway).

Both socket layers, the client's protocol (:mod:`.client`) and the gateway's
(:mod:`ota_deploy.local.gateway.connection`), use these two helpers:

* ``connection_made`` passes the new transport through :func:`stream_transport`, so the two
  ends are tuned alike before anything is written. TCP_NODELAY: the traffic is small packets
  in request/response (a block request, its block, the next request); with Nagle's algorithm
  each small write could wait for the previous one's ACK (up to the peer's delayed-ACK timer,
  tens of milliseconds).
* the session's timers (keep-alive, connect timeout) are decided by the sans-I/O connection
  in its clock's seconds; :func:`call_at_deadline` arms the one loop timer for its
  ``deadline()``, converting clock seconds to loop seconds with the clock's ``scale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from ota_deploy.core.clock import TimeSource


def stream_transport(transport: asyncio.BaseTransport) -> asyncio.Transport:
    """``transport`` as the stream transport it is, with TCP_NODELAY set on its socket (when
    there is one: a TLS or in-memory transport may have none, or refuse the option)."""
    assert isinstance(transport, asyncio.Transport)
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return transport


def call_at_deadline(
    clock: TimeSource, deadline: float | None, callback: Callable[[], None]
) -> asyncio.TimerHandle | None:
    """A loop timer calling ``callback`` at ``deadline`` (``clock`` seconds); None for none."""
    if deadline is None:
        return None
    delay = max(0.0, (deadline - clock.now()) / clock.scale)
    return asyncio.get_running_loop().call_later(delay, callback)
