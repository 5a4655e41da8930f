"""TLS for devices: mutual TLS with the thing's own certificate (AWS IoT, or the local one).

AWS IoT's ATS endpoint (port 8883) presents a certificate chaining to Amazon Root CA 1, which
the system trust store holds; ``ca_file`` overrides it. Each thing authenticates with the
certificate and private key ``fleet provision`` wrote for it
(https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html).
"""

from __future__ import annotations

import ssl
from pathlib import Path


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

