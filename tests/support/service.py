"""One way for tests to build a real ``LocalIotService`` in memory (no sockets, a fake clock).

The pairs (``aws_pair``, ``device_pair``) and the service's own unit tests all build the
service the same way: the local account and region, a placeholder MQTT endpoint, and the
publish / blob / presign seams the test wants (by default: publishes dropped, no S3 objects,
presigned URLs of a fake S3 host).
"""

from __future__ import annotations

from typing import Any

from ota_deploy.core.clock import Clock
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.local.contracts import BlobReader, Presigner, Publisher
from ota_deploy.local.iot import LocalIotService

MQTT_ENDPOINT = "mqtt.local.test:8883"


def _no_blob(bucket: str, key: str, version: str | None) -> bytes:
    raise KeyError(f"{bucket}/{key}")


def fake_presign(bucket: str, key: str, expires: int) -> str:
    return f"https://s3.local.test/{bucket}/{key}?X-Amz-Expires={expires}"


def memory_service(
    clock: Clock,
    *,
    publish: Publisher | None = None,
    read_blob: BlobReader | None = None,
    presign: Presigner | None = None,
    region: str = DEFAULT_REGION,
    account: str = LOCAL_ACCOUNT,
    mqtt_endpoint: str = MQTT_ENDPOINT,
    **extra: Any,
) -> LocalIotService:
    """A real service on ``clock``; ``extra`` goes to the constructor (e.g. ``ca=``)."""
    return LocalIotService(
        clock=clock,
        region=region,
        account=account,
        publish=publish or (lambda topic, payload: None),
        read_blob=read_blob or _no_blob,
        presign=presign or fake_presign,
        mqtt_endpoint=mqtt_endpoint,
        **extra,
    )
