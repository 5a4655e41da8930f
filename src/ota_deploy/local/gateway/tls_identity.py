"""The TLS identity of a local AWS IoT: its root CA and the gateway's server certificate.

Data flow (``LocalAwsIot.start``)::

    gateway_identity(hosts=[--host], directory=<state_dir>/tls or None, now=...)
        -> .ca        the LocalCa: signs CreateKeysAndCertificate's certificates (the control
                      plane) and the gateway's certificate; the TLS listener trusts it
        -> .identity  the gateway's ServerIdentity (localhost, 127.0.0.1 and --host)
        -> .ca_path   the CA's PEM file: ``local serve`` prints it as ``"ca"``, for clients'
                      ``--cafile`` / ``ca_certs`` / ``ca_filepath``

With a state directory both are persisted under ``<state_dir>/tls`` (``LocalCa`` and
``server_identity`` reuse them across restarts, so certificates issued before a restart stay
valid). Without one, the CA and the server certificate are made once per process and kept in
memory (an RSA key takes tens of milliseconds: a test suite that starts many local AWS IoTs
pays it once), and each server writes the CA's certificate -- the public half only -- to a
private temporary directory that lives as long as the server (``close``).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ota_deploy.local.auth import LocalCa, ServerIdentity, server_identity
from ota_deploy.local.auth.ca import CA_FILE
from ota_deploy.local.auth.pemfiles import write_pem

_LOCK = threading.Lock()
_PROCESS_CA: list[LocalCa] = []  # at most one: this process's in-memory CA
_PROCESS_IDENTITIES: dict[tuple[str, ...], ServerIdentity] = {}


@dataclass
class GatewayIdentity:
    ca: LocalCa
    identity: ServerIdentity
    ca_path: Path
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Remove the temporary CA file (nothing to do for a persisted identity)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def gateway_identity(
    *, hosts: Iterable[str], directory: Path | None, now: float
) -> GatewayIdentity:
    """The CA and server certificate for a gateway answering on ``hosts`` (see the module
    docstring); ``now`` in epoch seconds, no later than the wall clock (TLS peers check
    validity against theirs)."""
    names = tuple(hosts)
    if directory is not None:
        ca = LocalCa.load_or_create(directory, now=now)
        identity = server_identity(ca, now=now, hosts=names, directory=directory)
        return GatewayIdentity(ca, identity, directory / CA_FILE)
    with _LOCK:
        if not _PROCESS_CA:
            _PROCESS_CA.append(LocalCa.create(now=now))
        ca = _PROCESS_CA[0]
        if names not in _PROCESS_IDENTITIES:
            _PROCESS_IDENTITIES[names] = server_identity(ca, now=now, hosts=names)
        identity = _PROCESS_IDENTITIES[names]
    tmp = tempfile.TemporaryDirectory(prefix="ota-deploy-ca-")
    path = Path(tmp.name) / CA_FILE
    write_pem(path, ca.ca_pem)
    return GatewayIdentity(ca, identity, path, tmp)
