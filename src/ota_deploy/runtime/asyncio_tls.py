"""asyncio's TLS read buffer per connection, lowered for processes that hold thousands.

``trim_asyncio_tls_buffers()`` is called by a fleet that uses TLS (``fleet.runner.Fleet``); the
local AWS IoT's gateway, which holds the other end of every connection, may call it too.
"""

from __future__ import annotations

TLS_READ_BUFFER = 17 * 1024


def trim_asyncio_tls_buffers(size: int = TLS_READ_BUFFER) -> None:
    """Lower asyncio's per-connection TLS read buffer in this process.

    asyncio's ``SSLProtocol`` (Python 3.11+) gives every TLS connection a read buffer of
    ``SSLProtocol.max_size`` bytes, 256 KiB, filled with zeros up front
    (https://github.com/python/cpython/issues/109534): ten thousand devices would hold 2.5 GB
    for it alone. A device reads 4 KiB blocks; a buffer that holds one full TLS record (16 KiB
    of data and its overhead) costs a few more reads on a burst and nothing else (it is only
    where ciphertext lands before OpenSSL reads it): 1,000 TLS devices measured 332 KiB each
    with the default, 93 KiB with this. ``max_size`` is a public class attribute; only a
    lower value is set.
    """
    import asyncio.sslproto

    protocol = asyncio.sslproto.SSLProtocol
    if getattr(protocol, "max_size", 0) > size:
        protocol.max_size = size
