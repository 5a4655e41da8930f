"""Who may do what on one mutual-TLS connection: admission, then AWS IoT policy per packet.

Data flow (one ``DeviceGuard`` per TLS connection; plain-TCP connections have none and are
open to anyone -- the local convenience listener)::

    TLS handshake done -> admit(peer DER)          registered and ACTIVE?       else close
    CONNECT            -> bind(client id)          iot:Connect                  else refuse
    SUBSCRIBE          -> can_subscribe(filter)    iot:Subscribe                else failure code
    PUBLISH            -> can_publish(topic, retain)  iot:Publish (+ iot:RetainPublish)
    each delivery      -> can_receive(topic)       iot:Receive                  else not sent
    registry change    -> rebind() / still_active() (``DeviceAuthorityListener``, tls_front.py)

The guard asks the device registry through the ``DeviceAuthority`` seam
(``local.contracts``): the certificate's status at admission, and at CONNECT the
``ConnectionPolicy`` (``local.auth``) bound for the certificate and client id, whose answers
are then a few memoised pattern matches per packet. Which AWS reaction follows a denial is the
connection's business (``connection.py``, ``aws_rules.py``).

Sources: only registered ACTIVE certificates connect
(https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html);
"The iot:Connect permission is checked every time a CONNECT request is sent to the broker",
iot:Publish / iot:Subscribe / iot:Receive / iot:RetainPublish per request
(https://docs.aws.amazon.com/iot/latest/developerguide/policy-actions.html).
"""

from __future__ import annotations

from typing import Any

from ota_deploy.local.auth import Admission, admit_peer
from ota_deploy.local.contracts import DeviceAuthority

ACTIVE = "ACTIVE"


class DeviceGuard:
    """One TLS connection's certificate and the policy bound for it."""

    __slots__ = ("authority", "certificate_id", "client_id", "policy")

    def __init__(self, authority: DeviceAuthority) -> None:
        self.authority = authority
        self.certificate_id: str | None = None
        self.client_id = ""
        self.policy: Any = None  # local.auth.ConnectionPolicy once bound at CONNECT

    def admit(self, der: bytes | None) -> Admission:
        """After the handshake: admit the peer's certificate if the registry holds it
        ACTIVE."""
        admission = admit_peer(der, self.authority.certificate_status)
        if admission.admitted:
            self.certificate_id = admission.certificate_id
        return admission

    def still_active(self) -> bool:
        """Whether the certificate is still registered and ACTIVE (after a status change)."""
        cid = self.certificate_id
        return cid is not None and self.authority.certificate_status(cid) == ACTIVE

    def bind(self, client_id: str) -> bool:
        """At CONNECT: bind the certificate's policies for ``client_id``; whether iot:Connect
        allows this client id."""
        self.client_id = client_id
        self.rebind()
        return bool(self.policy is not None and self.policy.can_connect())

    def rebind(self) -> None:
        """Bind the policy again (policies, versions, attachments or thing facts changed)."""
        if self.certificate_id is None:
            self.policy = None
            return
        self.policy = self.authority.connection_policy(self.certificate_id, self.client_id)

    def can_subscribe(self, topic_filter: str) -> bool:
        policy = self.policy
        return policy is not None and bool(policy.can_subscribe(topic_filter))

    def can_publish(self, topic: str, retain: bool = False) -> bool:
        """iot:Publish on the topic and, for a retained message, iot:RetainPublish too."""
        policy = self.policy
        if policy is None or not policy.can_publish(topic):
            return False
        return not retain or bool(policy.can_retain_publish(topic))

    def can_receive(self, topic: str) -> bool:
        policy = self.policy
        return policy is not None and bool(policy.can_receive(topic))
