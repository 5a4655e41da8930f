"""An in-memory asyncio transport for the gateway's connection tests (no sockets).

It keeps what the connection writes (``packets(version)`` parses and clears it), records a
close or an abort and whether reading is paused, and can stand for a finished TLS handshake:
``get_extra_info("ssl_object")`` answers an object whose ``getpeercert(binary_form=True)`` is
``der``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ota_deploy.mqtt.parser import StreamParser


class PeerTls:
    """What ``transport.get_extra_info("ssl_object")`` gives after a handshake."""

    def __init__(self, der: bytes | None) -> None:
        self.der = der

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        return self.der


class MemoryTransport(asyncio.Transport):
    def __init__(self, der: bytes | None = None, *, tls: bool = False) -> None:
        super().__init__()
        self.ssl = PeerTls(der) if tls or der is not None else None
        self.data = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True

    def write(self, data: bytes) -> None:  # type: ignore[override]
        assert not self.closed, "written after close"
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.ssl if name == "ssl_object" and self.ssl is not None else default

    def packets(self, version: int = 4) -> list[Any]:
        """The packets written since the last call."""
        got = StreamParser(version).feed(bytes(self.data))
        self.data.clear()
        return got
