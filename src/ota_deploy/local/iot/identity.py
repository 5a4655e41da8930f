"""``DeviceIdentity``: the device registry as the gateway's mutual-TLS listener sees it
(``contracts.DeviceAuthority``).

Data flow::

    TLS handshake  <- trust_anchor_pems(): the local root CA, every registered CA certificate
                      and every certificate registered without a CA
    after it       <- certificate_status(certificateId): only ACTIVE may go on
    MQTT CONNECT   <- connection_policy(certificateId, clientId) -> local.auth.ConnectionPolicy
                      (can_connect / can_publish / can_subscribe / can_receive)
    changes        -> add_listener(listener): IdentityEvents calls it when a certificate's
                      status changes or it is deleted, when a trust anchor is added, and when
                      policies, versions, attachments or thing facts change

Rules, each from AWS's pages:

- A client connects only with a registered certificate that is ACTIVE
  (https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html:
  "AWS IoT verifies that a client certificate is active when it authenticates a connection").
  The status is the certificate's own; a deactivated CA does not change it.
- The connection's policies are the default versions of every policy attached to its
  certificate ("all policies attached to the certificate count together",
  https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html), plus those attached
  to the thing groups (and their ancestors) of the thing named by the client ID: "The policies
  attached to a thing group apply to any thing within that group. For the policy to take effect,
  the clientId and the thing name must match" (same page).
- Thing policy variables: the thing attached to the certificate whose name is the client ID;
  failing that, the thing the certificate is attached to exclusively
  (https://docs.aws.amazon.com/iot/latest/developerguide/exclusive-thing.html;
  ``local.auth.context`` resolves them from the facts given here: each attached thing's name,
  type and attributes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ota_deploy.local.auth import ConnectionPolicy, PrincipalContext, ThingFacts, bind
from ota_deploy.local.contracts import DeviceAuthority, DeviceAuthorityListener
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.certificates import Certificates
from ota_deploy.local.iot.certificates_ca import CaCertificates
from ota_deploy.local.iot.identity_events import IdentityEvents
from ota_deploy.local.iot.policies import Policies
from ota_deploy.local.iot.registry import Registry


class DeviceIdentity:
    """The registry's answers to the gateway (``contracts.DeviceAuthority``)."""

    def __init__(
        self,
        *,
        arns: Arns,
        certificates: Certificates,
        cas: CaCertificates,
        policies: Policies,
        registry: Registry,
        events: IdentityEvents,
    ) -> None:
        self._arns = arns
        self._certificates = certificates
        self._cas = cas
        self._policies = policies
        self._registry = registry
        self._events = events

    def add_listener(self, listener: DeviceAuthorityListener) -> None:
        self._events.add(listener)

    def trust_anchor_pems(self) -> list[str]:
        """The local root CA (it signs CreateKeysAndCertificate's certificates), registered
        CA certificates, and certificates registered without a CA; each once."""
        pems = [self._certificates.issuer.ca.ca_pem]
        pems += [ca.pem for ca in self._cas.table.values()]
        pems += [c.pem for c in self._certificates.table.values() if c.mode == "SNI_ONLY"]
        return list(dict.fromkeys(pems))

    def certificate_status(self, certificate_id: str) -> str | None:
        c = self._certificates.get(certificate_id)
        return None if c is None else c.status

    def principal_context(self, certificate_id: str, client_id: str) -> PrincipalContext:
        """The facts a policy may refer to for this certificate and client id."""
        c = self._certificates.get(certificate_id)
        things: dict[str, ThingFacts] = {}
        exclusive = None
        if c is not None:
            for name in c.things:
                thing = self._registry.things.get(name)
                if thing is not None:
                    things[name] = ThingFacts(name, thing.thing_type, dict(thing.attributes))
            exclusive = c.exclusive_thing
        return PrincipalContext(
            client_id=client_id,
            certificate_id=None if c is None else c.certificate_id,
            things=things,
            exclusive_thing=exclusive,
            region=self._arns.region,
            account=self._arns.account,
        )

    def policy_documents(self, certificate_id: str, client_id: str) -> list[str]:
        """The default-version documents that hold for this certificate and client id."""
        c = self._certificates.get(certificate_id)
        if c is None:
            return []
        targets = [c.arn]
        if client_id in c.things:
            targets += [
                self._registry.groups[g].arn
                for g in sorted(self._registry.thing_group_closure(client_id))
            ]
        return self._policies.documents_for(targets)

    def connection_policy(self, certificate_id: str, client_id: str) -> ConnectionPolicy:
        """What this connection may do: every applicable policy bound to its context (an
        unknown certificate gets no statement at all, so everything is denied)."""
        return bind(
            self.principal_context(certificate_id, client_id),
            self.policy_documents(certificate_id, client_id),
        )


if TYPE_CHECKING:  # mypy proves the class keeps the gateway's contract
    _CONTRACT: type[DeviceAuthority] = DeviceIdentity
