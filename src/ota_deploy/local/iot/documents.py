"""Job documents: size/JSON checks, documentSource fetching and presigned-URL substitution.

- Documents are at most 32 KB (https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html
  "Job document size"); over the limit → InvalidRequestException, the same code botocore's
  ``max`` trait yields for an inline ``document``.
- ``documentSource`` is an S3 object URL (s3://B/K, https://B.s3.amazonaws.com/K,
  https://B.s3.REGION.amazonaws.com/K, https://s3.REGION.amazonaws.com/B/K), read from the
  local S3 at CreateJob (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html).
- ``${aws:iot:s3-presigned-url:URL}`` placeholders are replaced with presigned URLs in the copy
  devices receive (jobs data plane, notify-next), never in GetJobDocument
  (https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html#create-presigned-url).
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlsplit

from ota_deploy.core.aws_model import documented
from ota_deploy.core.s3url import parse_s3_url
from ota_deploy.local.contracts import BlobReader, Presigner
from ota_deploy.local.iot.errors import invalid

# expiresInSec "the default value is 3600 seconds"
# (https://docs.aws.amazon.com/iot/latest/apireference/API_PresignedUrlConfig.html)
DEFAULT_PRESIGN_SECONDS = 3600
PLACEHOLDER = re.compile(r"\$\{aws:iot:s3-presigned-url:([^}]+)\}")


def s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of an AWS-style S3 URL, or of a plain http://HOST:PORT/BUCKET/KEY URL
    (the local S3's own path-style address)."""
    try:
        return parse_s3_url(url)
    except ValueError:
        parts = urlsplit(url.strip())
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        if parts.scheme in ("http", "https") and bucket and key:
            return bucket, key
        raise


def check_document(text: str) -> None:
    limit = documented("job_document_bytes_max")
    if len(text.encode("utf-8")) > limit:
        invalid(f"The job document exceeds the maximum size of {limit} bytes.")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past CPython's decoder
        invalid("The job document is not valid JSON.")
    if not isinstance(parsed, dict):
        invalid("The job document must be a JSON object.")


def fetch_document(url: str, read_blob: BlobReader) -> str:
    try:
        bucket, key = s3_location(url)
    except ValueError as exc:
        invalid(f"documentSource is not a valid S3 URL: {exc}")
    try:
        data = read_blob(bucket, key, None)
    except KeyError:
        invalid(f"The job document at {url} cannot be read (no such bucket or key).")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        invalid(f"The job document at {url} is not UTF-8 text.")
    check_document(text)
    return text


def substitute(text: str, presign: Presigner, expires_in: int | None) -> str:
    """Replace every presigned-URL placeholder with a presigned GET URL of the local S3."""
    seconds = int(expires_in or DEFAULT_PRESIGN_SECONDS)

    def repl(m: re.Match[str]) -> str:
        try:
            bucket, key = s3_location(m.group(1))
        except ValueError:
            return m.group(0)
        url = presign(bucket, key, seconds)
        return json.dumps(url)[1:-1]  # keep the surrounding JSON string valid

    return PLACEHOLDER.sub(repl, text)
