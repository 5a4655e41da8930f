"""What a gateway connection received but may not handle yet: kept for its turn, in order.

``GatewayConnection`` (``connection.py``) inherits this from ``Backlog``. The gateway shares
its event loop with the HTTP control plane and the service (``fair_share.py``): once this loop
iteration's slice of gateway work is used up, or other connections wait before it, a
connected client's bytes are kept here and the connection queues for a turn::

    data_received(bytes) -> _keep: the backlog (a list of reads), one place in the queue
    FairShare's turn     -> take_turn: the backlog joined, handled as one read (_receive)
    eof_received         -> take_turn now: what the client sent before its EOF comes first
    connection_lost      -> _receive_after_loss: see there

Bounded: past ``BACKLOG_PAUSE`` kept bytes the transport stops reading until the turn (the
kernel's buffers and the client's flow control hold the rest).
"""

from __future__ import annotations

import asyncio

from ota_deploy.local.gateway.fair_share import FairShare
from ota_deploy.runtime.failure_log import FailureLog

BACKLOG_PAUSE = 256 * 1024  # bytes kept for a later turn before reading stops until then


class Backlog:
    """The kept bytes of one connection (a mixin of ``GatewayConnection``, whose state and
    primitives it uses: declared here, defined there)."""

    transport: asyncio.Transport | None
    client_id: str
    disconnect_reason: str | None
    _turns: FairShare
    _failures: FailureLog
    _backlog: list[bytes] | None  # received, kept for a later turn
    _backlog_bytes: int
    _reading_paused: bool

    def _receive(self, data: bytes) -> None:
        raise NotImplementedError

    def abort(self, reason: str) -> None:
        raise NotImplementedError

    def eof_received(self) -> bool | None:
        """The client closed its side: what it sent before is handled first (then the
        transport closes, as by default)."""
        self.take_turn()
        return None

    def _keep(self, data: bytes) -> None:
        """Keep ``data`` for this connection's next turn; stop reading a client whose kept
        bytes pass ``BACKLOG_PAUSE`` until then (what is kept stays bounded)."""
        if self._backlog is None:
            self._backlog = [data]
            self._turns.wait(self)
        else:
            self._backlog.append(data)
        self._backlog_bytes += len(data)
        transport = self.transport
        if (
            self._backlog_bytes >= BACKLOG_PAUSE
            and not self._reading_paused
            and transport is not None
            and not transport.is_closing()
        ):
            self._reading_paused = True
            transport.pause_reading()

    def take_turn(self) -> None:
        """Handle the kept bytes (``FairShare`` calls this on the connection's turn)."""
        if self._backlog is None:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            if self.disconnect_reason is not None:
                self._drop_backlog()  # closed by the gateway: dropped
            return  # else lost by the client: connection_lost, next, handles them
        backlog = self._drop_backlog()
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        try:
            self._receive(backlog[0] if len(backlog) == 1 else b"".join(backlog))
        except Exception as exc:  # as asyncio treats a failing data_received: close the link
            what = "handling a client's data (the connection is closed)"
            self._failures.failed(what, exc, detail=self.client_id)
            self.abort("SERVER_ERROR")

    def _drop_backlog(self) -> list[bytes]:
        backlog, self._backlog, self._backlog_bytes = self._backlog or [], None, 0
        return backlog

    def _receive_after_loss(self) -> None:
        """Kept bytes of a link that is gone. If the gateway closed it (a reason is recorded:
        a refusal, a takeover, a fault, the client's DISCONNECT) they are dropped, as the rest
        of a read is once the link is closed. If the client lost it (a reset, a failed send)
        after they arrived, they are handled now, as they would have been before the loss, on
        a stand-in transport that writes nowhere."""
        backlog = self._drop_backlog()
        if not backlog or self.disconnect_reason is not None:
            return
        real, self.transport = self.transport, _Gone(self.transport)
        try:
            self._receive(b"".join(backlog))
        except Exception as exc:
            self._failures.failed("handling a lost client's last data", exc, detail=self.client_id)
        finally:
            self.transport = real


class _Gone(asyncio.Transport):
    """A lost link's stand-in while its last bytes are handled: writes go nowhere, a close
    marks it closing (so handling stops where it would have stopped on the live link)."""

    def __init__(self, real: asyncio.Transport | None) -> None:
        super().__init__()
        self._real = real
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._real.get_extra_info(name, default) if self._real is not None else default
