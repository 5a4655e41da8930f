"""The seams between the pieces of the embedded local AWS IoT.

Data flows like this::

    boto3 / AWS CLI --HTTP REST-JSON--> local.http (parse + validate from botocore models)
         --> IotService.call(service, operation, params) --> local.iot (store + jobs engine)
    device --MQTT--> local.gateway --ReservedTopicHandler--> local.reserved (Jobs MQTT API,
         MQTT file delivery) --> IotService.call(...) / BlobReader
    local.iot --Publisher(topic, payload)--> local.gateway (notify, notify-next, $aws/events)

``params`` and the returned dicts use exactly botocore's input/output shape member names for
the operation (``service`` is ``"iot"`` or ``"iot-jobs-data"``, ``operation`` the botocore
operation name such as ``"CreateJob"``). Timestamp members are ``datetime`` objects (UTC,
timezone-aware); blobs are ``bytes``; the transport layer serialises them per protocol.
Domain failures raise ``AwsError`` with AWS's error code; each transport maps it (HTTP status
and ``x-amzn-ErrorType`` header, or an MQTT ``rejected`` payload).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ota_deploy.core.defaults import DEFAULT_REGION as DEFAULT_REGION
from ota_deploy.core.defaults import LOCAL_ACCOUNT

DEFAULT_ACCOUNT = LOCAL_ACCOUNT  # the account the local AWS IoT answers as (core.defaults)


class AwsError(Exception):
    """A failure as AWS reports it: a modeled error code, a message and the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra  # extra members of the error shape, e.g. resourceId, resourceArn


class IotService(Protocol):
    """The local AWS IoT's operations, transport-free."""

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...


Publisher = Callable[[str, bytes], None]
"""Publish ``payload`` on ``topic`` through the device gateway (QoS 0), to its subscribers."""

BlobReader = Callable[[str, str, str | None], bytes]
"""Read S3 object bytes: ``reader(bucket, key, version_id)``; raises ``KeyError`` if absent."""

Presigner = Callable[[str, str, int], str]
"""``presign(bucket, key, expires_in_seconds)`` -> a working presigned GET URL of the local S3."""


Reply = Callable[[str, bytes], None]
"""Deliver a response to the requesting client on ``topic``; it reaches the requester even if it
has not subscribed (AWS IoT reserved-topic semantics). Jobs replies (``…/accepted``,
``…/rejected``) reach only the requester, as AWS's reserved-topics page says; file-delivery
replies also reach other subscribers of the topic."""


class ReservedTopicHandler(Protocol):
    """A service behind AWS IoT reserved topics (``$aws/...``), plugged into the gateway."""

    def handles(self, topic: str) -> bool:
        """Whether a client PUBLISH to ``topic`` is addressed to this handler (not routed)."""
        ...

    def handle(
        self, client_id: str, topic: str, payload: bytes, reply: Reply
    ) -> Awaitable[None] | None:
        """Answer one request. May be a coroutine function (for slow work such as S3 reads)."""
        ...


class DeviceAuthorityListener(Protocol):
    """What the device registry tells the gateway when identity changes (the gateway acts on
    its connections: closes those of a certificate no longer ACTIVE, re-binds policies)."""

    def certificate_status_changed(self, certificate_id: str, status: str) -> None:
        """A certificate's status changed (e.g. ACTIVE -> INACTIVE / REVOKED), or it was deleted
        (``status`` "DELETED"): connections that authenticated with it must be re-checked."""
        ...

    def permissions_changed(self, certificate_ids: frozenset[str] | None) -> None:
        """Policies, policy versions, attachments or thing facts changed for these certificates
        (None: possibly all): their connections' bound policies must be rebuilt."""
        ...

    def trust_anchor_added(self, pem: str) -> None:
        """A CA certificate was registered, or a certificate registered without a CA: the TLS
        listener must accept chains ending in it from the next handshake on."""
        ...


class DeviceAuthority(Protocol):
    """What the gateway's mutual-TLS listener asks of the device registry (``local.iot``).

    Flow: TLS handshake (trust anchors: ``trust_anchor_pems``) -> ``certificate_status`` of the
    peer's certificateId (only ACTIVE may connect) -> at CONNECT ``connection_policy`` for the
    certificate and client id -> per SUBSCRIBE / PUBLISH / delivery the policy's
    ``can_subscribe`` / ``can_publish`` / ``can_receive`` (``local.auth.ConnectionPolicy``).
    Changes reach the gateway through the listener it registers.
    """

    def trust_anchor_pems(self) -> list[str]:
        """Registered CA certificates and certificates registered without a CA (PEM)."""
        ...

    def certificate_status(self, certificate_id: str) -> str | None:
        """The certificate's status (ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, ...), or
        None when no such certificate is registered."""
        ...

    def connection_policy(self, certificate_id: str, client_id: str) -> Any:
        """``local.auth.ConnectionPolicy`` bound for this certificate and client id: the
        union of the certificate's attached policies' default versions, with the policy
        variables resolved (thing variables when ``client_id`` is a thing attached to it)."""
        ...

    def add_listener(self, listener: DeviceAuthorityListener) -> None: ...


@dataclass(frozen=True)
class LocalEndpoints:
    """Where a running local AWS IoT listens; what ``ota-deploy local serve`` prints."""

    iot: str
    jobs_data: str
    s3: str
    mqtt_host: str
    mqtt_port: int
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    mqtts_port: int | None = None  # MQTT over mutual TLS (AWS's 8883), when listening
    ca: str | None = None  # path of the PEM that signs the gateway's server certificate

    @property
    def mqtt(self) -> str:
        return f"{self.mqtt_host}:{self.mqtt_port}"

    @property
    def mqtts(self) -> str | None:
        return f"{self.mqtt_host}:{self.mqtts_port}" if self.mqtts_port is not None else None

    def to_json_dict(self) -> dict[str, Any]:
        """``local serve``'s one JSON line (DESIGN.md's contract)."""
        out: dict[str, Any] = {
            "iot": self.iot,
            "jobs_data": self.jobs_data,
            "s3": self.s3,
            "mqtt": self.mqtt,
        }
        if self.mqtts is not None:
            out["mqtts"] = self.mqtts
        if self.ca is not None:
            out["ca"] = self.ca
        out["region"] = self.region
        out["account"] = self.account
        return out

    def env(self) -> dict[str, str]:
        """The standard variables that point boto3 and the AWS CLI at this local AWS IoT."""
        return {
            "AWS_ENDPOINT_URL_IOT": self.iot,
            "AWS_ENDPOINT_URL_IOT_JOBS_DATA_PLANE": self.jobs_data,
            "AWS_ENDPOINT_URL_S3": self.s3,
            "AWS_DEFAULT_REGION": self.region,
        }
