"""Wire formats a simulated device speaks: topics, Jobs payloads, file-delivery codecs, documents.

Pure functions only (no I/O): the device agent (``fleet.agent``) calls them to build the bytes
it publishes and to read the bytes it receives.

Data flow::

    job document (dict) --parse_job_document--> FirmwareSpec (what to download, how to verify)
    FirmwareSpec + missing blocks --encode_get_stream--> GetStream request (JSON or CBOR)
    data/description/rejected payload --decode_stream_message--> dict (JSON "p"/"b" un-base64ed)

Specifications:
  Jobs MQTT API  https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html
  MQTT-based file delivery
    https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html
  In JSON, binary members (the block payload ``p`` and the bitmap ``b``) are base64 strings; in
  CBOR they are byte strings. Bit ``i`` of the bitmap (byte ``i // 8``, mask ``1 << (i % 8)``,
  as FreeRTOS's OTA agent builds it) asks for block ``o + i``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import cbor2

Protocol = Literal["cbor", "json"]

PRESIGNED_PLACEHOLDER = "${aws:iot:s3-presigned-url:"
MAX_BYTES_PER_REQUEST = 131072  # AWS: at most 128 KiB of blocks per GetStream request


# --------------------------------------------------------------------------- topics


def jobs_topic(thing: str, *parts: str) -> str:
    """``$aws/things/{thing}/jobs/{parts...}``."""
    return "/".join((f"$aws/things/{thing}/jobs", *parts))


def stream_topic(thing: str, stream_id: str, verb: str, protocol: Protocol) -> str:
    """``$aws/things/{thing}/streams/{stream}/{verb}/{json|cbor}``."""
    return f"$aws/things/{thing}/streams/{stream_id}/{verb}/{protocol}"


def device_subscriptions(thing: str, protocol: Protocol) -> tuple[str, ...]:
    """The topic filters an agent subscribes to once per connection (one SUBSCRIBE packet).

    Wildcards keep it to one round trip whatever the job or stream: the agent learns both at
    run time and matches replies by client token.
    """
    jobs = f"$aws/things/{thing}/jobs"
    streams = f"$aws/things/{thing}/streams/+"
    return (
        f"{jobs}/notify-next",
        f"{jobs}/start-next/accepted",
        f"{jobs}/start-next/rejected",
        f"{jobs}/+/get/accepted",
        f"{jobs}/+/get/rejected",
        f"{jobs}/+/update/accepted",
        f"{jobs}/+/update/rejected",
        f"{streams}/description/{protocol}",
        f"{streams}/data/{protocol}",
        f"{streams}/rejected/{protocol}",
    )


@dataclass(frozen=True)
class TopicInfo:
    """What an incoming topic is: a jobs reply/notification or a stream reply."""

    kind: Literal["jobs", "stream"]
    name: str  # jobs: "notify-next", "start-next/accepted", "update/accepted", ...
    #            stream: "description", "data", "rejected"
    job_id: str | None = None
    stream_id: str | None = None


@lru_cache(maxsize=16_384)  # a device hears the same few topics for a whole download
def classify_topic(thing: str, topic: str) -> TopicInfo | None:
    """Parse a topic addressed to ``thing``; None for topics the agent does not know."""
    prefix = f"$aws/things/{thing}/"
    if not topic.startswith(prefix):
        return None
    rest = topic[len(prefix) :].split("/")
    if rest[0] == "jobs" and len(rest) >= 2:
        tail = rest[1:]
        if tail == ["notify-next"] or tail == ["notify"]:
            return TopicInfo("jobs", tail[0])
        if len(tail) == 2 and tail[0] == "start-next":
            return TopicInfo("jobs", f"start-next/{tail[1]}")
        if len(tail) == 3 and tail[1] in ("get", "update"):
            return TopicInfo("jobs", f"{tail[1]}/{tail[2]}", job_id=tail[0])
        return None
    if rest[0] == "streams" and len(rest) == 4:
        return TopicInfo("stream", rest[2], stream_id=rest[1])
    return None


# --------------------------------------------------------------------------- Jobs payloads


def encode_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode_json(payload: bytes) -> dict[str, Any] | None:
    """A JSON object, or None when the payload is not one."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def update_request(
    status: str,
    status_details: dict[str, str],
    expected_version: int | None,
    client_token: str,
) -> bytes:
    """UpdateJobExecution over MQTT; asks for the new execution state to learn the version."""
    body: dict[str, Any] = {
        "status": status,
        "includeJobExecutionState": True,
        "clientToken": client_token,
    }
    if status_details:
        body["statusDetails"] = status_details
    if expected_version is not None:
        body["expectedVersion"] = expected_version
    return encode_json(body)


# --------------------------------------------------------------------------- file delivery


def encode_stream_message(obj: dict[str, Any], protocol: Protocol) -> bytes:
    """Encode a DescribeStream/GetStream request. In JSON the bitmap ``b`` is a ``0x`` hex
    string, as the MQTT-based file delivery page shows (``"b": "0x130080"``); other bytes
    members are base64 (https://docs.aws.amazon.com/iot/latest/developerguide/
    mqtt-based-file-delivery-in-devices.html)."""
    if protocol == "cbor":
        return bytes(cbor2.dumps(obj))
    plain = {
        k: ("0x" + v.hex() if k == "b" else base64.b64encode(v).decode())
        if isinstance(v, bytes)
        else v
        for k, v in obj.items()
    }
    return encode_json(plain)


def encode_get_stream(
    *,
    client_token: str,
    stream_version: int | None,
    file_id: int,
    block_size: int,
    offset: int,
    count: int,
    bitmap: bytes | None,
    protocol: Protocol,
) -> bytes:
    """A GetStream request ``{c, s, f, l, o, n, b}`` for ``count`` blocks from ``offset``."""
    req: dict[str, Any] = {
        "c": client_token,
        "f": file_id,
        "l": block_size,
        "o": offset,
        "n": count,
    }
    if stream_version is not None:
        req["s"] = stream_version
    if bitmap is not None:
        req["b"] = bitmap
    return encode_stream_message(req, protocol)


def decode_stream_message(payload: bytes, protocol: Protocol) -> dict[str, Any] | None:
    """Decode a description/data/rejected message; JSON's base64 ``p`` becomes bytes."""
    if protocol == "cbor":
        try:
            obj = cbor2.loads(payload)
        except Exception:  # cbor2 raises several error types for malformed input
            return None
        return obj if isinstance(obj, dict) else None
    obj = decode_json(payload)
    if obj is None:
        return None
    p = obj.get("p")
    if isinstance(p, str):
        try:
            obj["p"] = base64.b64decode(p, validate=True)
        except (binascii.Error, ValueError):
            return None
    return obj


def make_bitmap(indices: list[int], offset: int) -> bytes:
    """Bitmap with bit ``i - offset`` set for every block index ``i`` (LSB first in each byte)."""
    if not indices:
        return b""
    span = max(indices) - offset + 1
    out = bytearray((span + 7) // 8)
    for i in indices:
        bit = i - offset
        out[bit >> 3] |= 1 << (bit & 7)
    return bytes(out)


# --------------------------------------------------------------------------- job documents


class DocumentError(ValueError):
    """The job document is not one this device can act on (the device REJECTs the job)."""


@dataclass(frozen=True)
class FirmwareSpec:
    """What a job asks the device to fetch and how to check it."""

    stream_id: str | None
    file_id: int
    file_size: int | None
    image_version: str | None
    md5_hex: str | None
    signature: bytes | None
    signature_algorithm: str | None
    url: str | None  # presigned HTTPS URL (already substituted by the Jobs service)

    @property
    def url_usable(self) -> bool:
        return bool(self.url) and PRESIGNED_PLACEHOLDER not in (self.url or "")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise DocumentError(f"{what} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise DocumentError(f"{what} must be an integer, got {value!r}")


def _signature(value: Any) -> bytes:
    if not isinstance(value, str):
        raise DocumentError("signature must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise DocumentError("signature is not valid base64") from err


def parse_job_document(doc: Any) -> FirmwareSpec:
    """Read the tool's ``{"command": "fota", ...}`` document (or FreeRTOS's ``afr_ota`` form).

    Over MQTT the document is an object; its JSON text is tolerated too. Raises
    ``DocumentError`` with a reason when the device cannot act on it.
    """
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = None
    if not isinstance(doc, dict):
        raise DocumentError("job document is not a JSON object")
    if "afr_ota" in doc:
        return _parse_afr_ota(doc["afr_ota"])
    command = doc.get("command")
    if command is not None and command != "fota":
        raise DocumentError(f"unsupported command {command!r} (this device handles 'fota')")
    stream_id = doc.get("streamId")
    url = doc.get("url")
    if stream_id is not None and not isinstance(stream_id, str):
        raise DocumentError("streamId must be a string")
    if url is not None and not isinstance(url, str):
        raise DocumentError("url must be a string")
    if not stream_id and not url:
        raise DocumentError("job document has neither streamId nor url")
    file_id = _int(doc.get("fileId", 0), "fileId")
    if not 0 <= file_id <= 255:
        raise DocumentError(f"fileId {file_id} is outside 0-255")
    size = doc.get("fileSize")
    file_size = _int(size, "fileSize") if size is not None else None
    md5 = doc.get("md5sum")
    if md5 is not None and not isinstance(md5, str):
        raise DocumentError("md5sum must be a string")
    sig = doc.get("signature")
    image_ver = doc.get("imageVer")
    alg = doc.get("signatureAlgorithm")
    return FirmwareSpec(
        stream_id=stream_id or None,
        file_id=file_id,
        file_size=file_size,
        image_version=str(image_ver) if image_ver is not None else None,
        md5_hex=md5.lower() if md5 else None,
        signature=_signature(sig) if sig is not None else None,
        signature_algorithm=str(alg) if alg is not None else None,
        url=url or None,
    )


def _parse_afr_ota(ota: Any) -> FirmwareSpec:
    """FreeRTOS OTA's document: ``{"afr_ota": {"streamname", "files": [{...}]}}``."""
    if not isinstance(ota, dict):
        raise DocumentError("afr_ota is not an object")
    files = ota.get("files")
    if not isinstance(files, list) or not files or not isinstance(files[0], dict):
        raise DocumentError("afr_ota.files is empty")
    f = files[0]
    sig_key = next((k for k in f if str(k).startswith("sig-")), None)
    url = f.get("update_data_url")
    stream = ota.get("streamname")
    if not stream and not url:
        raise DocumentError("afr_ota has neither streamname nor update_data_url")
    return FirmwareSpec(
        stream_id=str(stream) if stream else None,
        file_id=_int(f.get("fileid", 0), "fileid"),
        file_size=_int(f["filesize"], "filesize") if "filesize" in f else None,
        image_version=None,
        md5_hex=None,
        signature=_signature(f[sig_key]) if sig_key else None,
        signature_algorithm="SHA256withECDSA" if sig_key else None,
        url=str(url) if url else None,
    )
