"""Fixtures for the mutual-TLS listener: a PKI on disk and a gateway listening with TLS.

``pki``: a local CA (``local.auth.LocalCa``) and device credentials as files, the way clients
take them (``--cafile --cert --key``, ``tls_set``, ``mtls_from_path``): thing-1 ACTIVE,
thing-2 INACTIVE, one issued by the CA but never registered, and one from a foreign CA.
``tls_gateway``: an ``MqttGateway`` on its own loop thread with both listeners, admitting and
authorizing through ``SeamAuthority`` (the DeviceAuthority seam built on local.auth; the
end-to-end test uses the real registry through the control plane instead).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.local.tls.pki import Pki, TlsGatewayThread, make_pki
from tests.unit.local.gateway.seam_authority import SeamAuthority, device_policy


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_gateway(pki: Pki) -> Iterator[TlsGatewayThread]:
    authority = SeamAuthority()
    authority.register(pki.devices["thing-1"].pem, device_policy("thing-1"))
    authority.register(pki.devices["thing-2"].pem, device_policy("thing-2"), status="INACTIVE")
    gt = TlsGatewayThread(pki, authority).start()
    try:
        yield gt
    finally:
        gt.stop()
