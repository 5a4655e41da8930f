"""The stream request and the job document of a round.

Stream: CreateStream's request (streamId, description, files [{fileId, s3Location}], roleArn),
as the manual's create-stream.json. Job document: the manual's template
``{command: "fota", streamId, fileId, fileSize, imageVer, md5sum}``; with a signed image
``signature`` + ``signatureAlgorithm`` replace ``md5sum``; with a presigned-URL config the
document also carries ``url`` = ``${aws:iot:s3-presigned-url:https://BUCKET.s3.amazonaws.com/KEY}``
so a device may download over HTTPS instead of MQTT streams.

A custom document ([CUSTOM_JOB_DOCUMENT]: a local JSON file, or the JSON the deploy side
fetched from jobDocSrcUrl) comes first and the runtime fields overwrite same-named keys, as the
manual's job_temp.json example shows. A stale ``md5sum`` in a custom document is dropped when
the image is signed (a device would check it against the wrong value).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ota_deploy.core.firmware import Firmware
from ota_deploy.core.s3url import presigned_url_placeholder

DEFAULT_STREAM_DESCRIPTION = "This stream is used for sending 1 ota stream file to devices."
_TRAILING_COMMA_RE = re.compile(r",\s*[}\]]")


def stream_request(
    *,
    stream_id: str,
    file_id: int,
    bucket: str,
    key: str,
    role_arn: str,
    description: str | None = None,
) -> dict[str, Any]:
    """CreateStream kwargs (botocore member names)."""
    return {
        "streamId": stream_id,
        "description": description or DEFAULT_STREAM_DESCRIPTION,
        "files": [{"fileId": file_id, "s3Location": {"bucket": bucket, "key": key}}],
        "roleArn": role_arn,
    }


def job_document(
    *,
    stream_id: str,
    file_id: int,
    firmware: Firmware,
    image_version: str,
    custom: dict[str, Any] | None = None,
    presigned: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The job document: ``custom`` (copied) overwritten by the runtime fields.

    ``presigned`` is (bucket, key) of the firmware when a presigned-URL config is in force.
    """
    document: dict[str, Any] = dict(custom or {})
    runtime: dict[str, Any] = {
        "command": "fota",
        "streamId": stream_id,
        "fileId": file_id,
        "fileSize": firmware.size,
        "imageVer": image_version,
    }
    if firmware.signature_b64:
        document.pop("md5sum", None)
        runtime["signature"] = firmware.signature_b64
        runtime["signatureAlgorithm"] = firmware.signature_algorithm
    else:
        runtime["md5sum"] = firmware.md5_hex
    if presigned is not None:
        runtime["url"] = presigned_url_placeholder(*presigned)
    for name, value in runtime.items():
        document.pop(name, None)  # runtime keys come last, in template order
        document[name] = value
    return document


def encode_document(document: dict[str, Any]) -> str:
    """The document as CreateJob's ``document`` string (compact, stable key order)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def parse_custom_document(text: str | bytes, *, source: str) -> dict[str, Any]:
    """A custom job document's JSON object; ``ValueError`` naming ``source`` otherwise."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError(f"{source} is not UTF-8 text") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        hint = ""
        if _TRAILING_COMMA_RE.search(err.doc):
            hint = " (JSON allows no comma before a closing '}' or ']')"
        raise ValueError(
            f"{source} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}" + hint
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{source} must hold a JSON object, not {type(value).__name__}")
    return value


def load_custom_document_file(path: Path) -> dict[str, Any]:
    """Read ``jobDocPath``; ``ValueError`` with a reason naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"job document file not found: {path}") from None
    except OSError as err:
        raise ValueError(f"cannot read job document {path}: {err.strerror}") from None
    return parse_custom_document(data, source=str(path))
