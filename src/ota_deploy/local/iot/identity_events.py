"""Who must hear when device identity changes: the fan-out from the control plane to the gateway.

Data flow: the certificate, policy, principal and registry stores call ``IdentityEvents`` right
after they change a record (``certificate_status_changed``, ``permissions_changed``,
``trust_anchor_added``); it hands each change to every registered
``contracts.DeviceAuthorityListener`` (the gateway's mutual-TLS listener registers one through
``DeviceAuthority.add_listener``). A listener that raises is logged and skipped: a broken
gateway hook must never fail the control-plane call that made the change (the change is
already committed).

The stores depend on this small module, and the authority (``identity``) on the stores, so
nothing imports in a circle.
"""

from __future__ import annotations

import logging

from ota_deploy.local.contracts import DeviceAuthorityListener

log = logging.getLogger(__name__)

DELETED = "DELETED"  # the status a deleted certificate is announced with (contracts.py)


class IdentityEvents:
    """The listeners of identity changes, and the one place that calls them."""

    def __init__(self) -> None:
        self._listeners: list[DeviceAuthorityListener] = []

    def add(self, listener: DeviceAuthorityListener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def certificate_status_changed(self, certificate_id: str, status: str) -> None:
        for listener in list(self._listeners):
            try:
                listener.certificate_status_changed(certificate_id, status)
            except Exception:
                log.exception("identity listener failed on a status change of %s", certificate_id)

    def permissions_changed(self, certificate_ids: frozenset[str] | None) -> None:
        """``None``: possibly every certificate (e.g. a thing-group policy changed)."""
        if certificate_ids is not None and not certificate_ids:
            return
        for listener in list(self._listeners):
            try:
                listener.permissions_changed(certificate_ids)
            except Exception:
                log.exception("identity listener failed on a permissions change")

    def trust_anchor_added(self, pem: str) -> None:
        for listener in list(self._listeners):
            try:
                listener.trust_anchor_added(pem)
            except Exception:
                log.exception("identity listener failed on a new trust anchor")
