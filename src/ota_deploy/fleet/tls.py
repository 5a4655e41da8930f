"""TLS for devices: mutual TLS with the thing's own certificate (AWS IoT, or the local one).

AWS IoT's ATS endpoint (port 8883) presents a certificate chaining to Amazon Root CA 1, which
the system trust store holds; ``ca_file`` overrides it. Each thing authenticates with the
certificate and private key ``fleet provision`` wrote for it
(https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html).
"""

from __future__ import annotations

import ssl
from pathlib import Path

TLS_READ_BUFFER = 17 * 1024


def device_ssl_context(
    cert_file: Path, key_file: Path, ca_file: Path | None = None
) -> ssl.SSLContext:
    """A client context presenting ``cert_file``/``key_file`` and verifying the server."""
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


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
