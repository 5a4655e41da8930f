"""The one place a boto3 session and its clients are made (aws/ is the only boto3 importer).

The standard credential chain, an optional profile, the region, the standard endpoint
variables (``AWS_ENDPOINT_URL_IOT`` etc., which botocore reads itself) and a chosen retry mode.
``--local`` passes the local AWS IoT's endpoints explicitly, so the code that talks to AWS is the
same code in both modes.

S3 clients do not SHA-256-sign request bodies (``payload_signing_enabled`` False; S3 allows an
unsigned payload: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
Over HTTPS with a checksum botocore already sends streaming uploads unsigned; over plain HTTP
(the local S3) it would hash each part before sending it, and when awscrt is installed that hash
reads the part through awscrt, which prints a traceback for every part a Ctrl-C cancels
mid-read (issue 10 §8). Integrity stays with TLS and the checksum botocore adds to each upload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from ota_deploy.core.defaults import DEFAULT_REGION


def default_region(explicit: str | None = None) -> str:
    """The region to use when a command has no dev.ini: ``explicit``, else ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, else the default profile's configured region, else
    ``DEFAULT_REGION`` (us-east-1)."""
    return (
        explicit
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or boto3.session.Session().region_name
        or DEFAULT_REGION
    )


@dataclass
class AwsTarget:
    """Where and as whom to call AWS."""

    region: str
    profile: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)  # service name -> URL (local mode)
    retry_mode: str = "adaptive"
    max_attempts: int = 8
    credentials: dict[str, str] | None = None  # explicit keys (local mode uses dummies)


class AwsClients:
    """Lazily made boto3 clients for one target."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        kwargs: dict[str, Any] = {"region_name": target.region}
        if target.profile:
            kwargs["profile_name"] = target.profile
        if target.credentials:
            kwargs.update(target.credentials)
        self.session = boto3.session.Session(**kwargs)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(
                retries={"mode": self.target.retry_mode, "max_attempts": self.target.max_attempts},
                connect_timeout=10,
                read_timeout=60,
                max_pool_connections=32,
                s3={"payload_signing_enabled": False},  # see the module docstring
            )
            kwargs: dict[str, Any] = {"config": config}
            url = self.target.endpoints.get(service)
            if url:
                kwargs["endpoint_url"] = url
            self._clients[service] = self.session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._clients[service]

    @property
    def iot(self) -> Any:
        return self.client("iot")

    @property
    def jobs_data(self) -> Any:
        return self.client("iot-jobs-data")

    @property
    def s3(self) -> Any:
        return self.client("s3")


def local_target(endpoints: dict[str, str], region: str) -> AwsTarget:
    """A target for the embedded local AWS IoT: its endpoints and dummy credentials."""
    return AwsTarget(
        region=region,
        endpoints=endpoints,
        credentials={"aws_access_key_id": "local", "aws_secret_access_key": "local"},
        retry_mode="standard",
        max_attempts=5,
    )


def is_aws_endpoint(url: str | None) -> bool:
    """True for AWS's own endpoints (``*.amazonaws.com``, ``*.amazonaws.com.cn``): where AWS's
    documented request rates apply. A local AWS IoT (``--local``, ``local serve``) has none."""
    host = (urlsplit(url).hostname or "") if url else ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))
