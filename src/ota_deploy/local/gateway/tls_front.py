"""The mutual-TLS side of the gateway, kept in step with the device registry.

Data flow::

    Listener(ssl=MutualTls.context) -> new_connection() -> GatewayConnection(guard=DeviceGuard)
    GatewayConnection admitted -> link_opened: indexed by certificateId (link_closed removes it)
    device registry (DeviceAuthority) --DeviceAuthorityListener--> TlsFront:
        certificate_status_changed(id, status) -> connections of a certificate no longer
                                                  ACTIVE (or deleted) are closed
        permissions_changed(ids | None)        -> their connections' policies are bound again
        trust_anchor_added(pem)                -> MutualTls.trust(pem): the next handshakes
                                                  accept chains ending in it

The registry may call from another thread (an HTTP handler); every change is applied on the
gateway's loop (``call_on_loop``), where the connections live. Changes take effect at once
(AWS may take minutes to apply a policy change), which a test can rely on. AWS IoT accepts only
ACTIVE certificates
(https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html);
a connection whose certificate stops being ACTIVE is closed here at once (issue 11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ota_deploy.local.auth import MutualTls
from ota_deploy.local.contracts import DeviceAuthority
from ota_deploy.local.gateway.authorization import DeviceGuard
from ota_deploy.local.gateway.connection import ConnectionHost, GatewayConnection


class FrontHost(ConnectionHost, Protocol):
    """What the front needs of the gateway: a connection host that can run work on its
    loop."""

    def call_on_loop(self, fn: Callable[[], None]) -> None: ...


class TlsFront:
    """Makes the TLS listener's connections and acts on the registry's changes (it is the
    gateway's ``DeviceAuthorityListener``)."""

    def __init__(self, host: FrontHost, tls: MutualTls, authority: DeviceAuthority) -> None:
        self.host = host
        self.tls = tls
        self.authority = authority
        self.by_certificate: dict[str, set[GatewayConnection]] = {}

    def new_connection(self) -> GatewayConnection:
        return GatewayConnection(self.host, DeviceGuard(self.authority))

    def link_opened(self, link: GatewayConnection) -> None:
        cid = link.guard.certificate_id if link.guard is not None else None
        if cid is not None:
            self.by_certificate.setdefault(cid, set()).add(link)

    def link_closed(self, link: GatewayConnection) -> None:
        cid = link.guard.certificate_id if link.guard is not None else None
        links = self.by_certificate.get(cid) if cid is not None else None
        if links is not None:
            links.discard(link)
            if not links:
                del self.by_certificate[cid]  # type: ignore[arg-type]

    def connections_of(self, certificate_id: str) -> int:
        return len(self.by_certificate.get(certificate_id, ()))

    # -- DeviceAuthorityListener -------------------------------------------------------------

    def certificate_status_changed(self, certificate_id: str, status: str) -> None:
        self.host.call_on_loop(lambda: self._recheck(certificate_id))

    def permissions_changed(self, certificate_ids: frozenset[str] | None) -> None:
        self.host.call_on_loop(lambda: self._rebind(certificate_ids))

    def trust_anchor_added(self, pem: str) -> None:
        self.host.call_on_loop(lambda: self._trust(pem))

    # -- applied on the gateway's loop -----------------------------------------------------------

    def _recheck(self, certificate_id: str) -> None:
        for link in list(self.by_certificate.get(certificate_id, ())):
            if link.guard is not None and not link.guard.still_active():
                link.revoke()

    def _rebind(self, certificate_ids: frozenset[str] | None) -> None:
        ids = list(self.by_certificate) if certificate_ids is None else certificate_ids
        for cid in ids:
            for link in self.by_certificate.get(cid, ()):
                if link.guard is not None and link.attached:
                    link.guard.rebind()

    def _trust(self, pem: str) -> None:
        self.tls.trust(pem)
