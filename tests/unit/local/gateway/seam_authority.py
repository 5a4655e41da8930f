"""A ``DeviceAuthority`` built on ``local.auth`` alone, to test the gateway's side of the seam.

It is not a copy of the device registry (``local.iot``): it holds certificate statuses and
policy documents by certificateId, binds policies with ``local.auth.bind`` exactly as the
Protocol says, and tells its listeners of every change it is asked to make. The end-to-end
tests use the real registry through the control plane.
"""

from __future__ import annotations

import json

from ota_deploy.local.auth import ConnectionPolicy, PrincipalContext, bind, certificate_id
from ota_deploy.local.contracts import DeviceAuthorityListener

ACCOUNT = "123456789012"
REGION = "us-east-1"


def policy(*statements: tuple[str, str, str]) -> str:
    """A policy document from (effect, action, resource-suffix) triples, e.g.
    ``("Allow", "iot:Publish", "topic/a/*")``; the suffix gets the local ARN prefix."""
    prefix = f"arn:aws:iot:{REGION}:{ACCOUNT}:"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": e, "Action": a, "Resource": r if r == "*" else prefix + r}
                for e, a, r in statements
            ],
        }
    )


class SeamAuthority:
    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.documents: dict[str, list[str]] = {}
        self.anchors: list[str] = []
        self.listeners: list[DeviceAuthorityListener] = []
        self.bound: list[tuple[str, str]] = []  # (certificateId, clientId) per connection_policy

    def register(self, certificate: bytes | str, *documents: str, status: str = "ACTIVE") -> str:
        """Register a certificate (DER bytes or PEM) with its policies; its certificateId."""
        cid = certificate_id(certificate)
        self.statuses[cid] = status
        self.documents[cid] = list(documents)
        return cid

    def set_status(self, cid: str, status: str | None) -> None:
        if status is None:
            self.statuses.pop(cid, None)
        else:
            self.statuses[cid] = status
        for listener in self.listeners:
            listener.certificate_status_changed(cid, status or "DELETED")

    def set_policies(self, cid: str, *documents: str) -> None:
        self.documents[cid] = list(documents)
        for listener in self.listeners:
            listener.permissions_changed(frozenset({cid}))

    def add_anchor(self, pem: str) -> None:
        self.anchors.append(pem)
        for listener in self.listeners:
            listener.trust_anchor_added(pem)

    # -- contracts.DeviceAuthority ------------------------------------------------------------

    def trust_anchor_pems(self) -> list[str]:
        return list(self.anchors)

    def certificate_status(self, certificate_id: str) -> str | None:
        return self.statuses.get(certificate_id)

    def connection_policy(self, certificate_id: str, client_id: str) -> ConnectionPolicy:
        self.bound.append((certificate_id, client_id))
        context = PrincipalContext(
            client_id=client_id, certificate_id=certificate_id, region=REGION, account=ACCOUNT
        )
        return bind(context, self.documents.get(certificate_id, []))

    def add_listener(self, listener: DeviceAuthorityListener) -> None:
        self.listeners.append(listener)


def device_policy(thing: str) -> str:
    """The policy shape AWS's basic Jobs example uses, for one thing
    (https://docs.aws.amazon.com/iot/latest/developerguide/basic-jobs-example.html)."""
    return policy(
        ("Allow", "iot:Connect", f"client/{thing}"),
        ("Allow", "iot:Publish", f"topic/$aws/things/{thing}/*"),
        ("Allow", "iot:Publish", f"topic/dev/{thing}/*"),
        ("Allow", "iot:Subscribe", f"topicfilter/$aws/things/{thing}/*"),
        ("Allow", "iot:Subscribe", f"topicfilter/dev/{thing}/*"),
        ("Allow", "iot:Receive", f"topic/$aws/things/{thing}/*"),
        ("Allow", "iot:Receive", f"topic/dev/{thing}/*"),
    )
