"""S3 object URLs in the forms users and AWS write them, to (bucket, key) and back.

Accepted: ``s3://BUCKET/KEY``, virtual-hosted ``https://BUCKET.s3.amazonaws.com/KEY`` and
``https://BUCKET.s3.REGION.amazonaws.com/KEY`` (also ``s3-REGION`` and ``.cn`` hosts), and
path-style ``https://s3.REGION.amazonaws.com/BUCKET/KEY`` / ``https://s3.amazonaws.com/BUCKET/KEY``.
Keys are percent-decoded. See
https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-bucket-intro.html
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

_VHOST_RE = re.compile(
    r"(?P<bucket>.+?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?"
)
_PATH_HOST_RE = re.compile(r"s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?")


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 object URL; ``ValueError`` with a reason when it is not one."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    if scheme == "s3":
        bucket, key = host, path.lstrip("/")
    elif scheme in ("https", "http"):
        vhost = _VHOST_RE.fullmatch(host)
        if vhost and not _PATH_HOST_RE.fullmatch(host):
            bucket, key = vhost.group("bucket"), path.lstrip("/")
        elif _PATH_HOST_RE.fullmatch(host):
            bucket, _, key = path.lstrip("/").partition("/")
        else:
            raise ValueError(f"{url!r} is not an S3 URL (host {host!r} is not *.amazonaws.com)")
    else:
        raise ValueError(f"{url!r} is not an S3 URL (use s3://BUCKET/KEY or https://...)")
    if not bucket or not key:
        raise ValueError(f"{url!r} does not name both a bucket and an object key")
    return bucket, key


def s3_https_url(bucket: str, key: str) -> str:
    """The virtual-hosted HTTPS URL of an object, as CreateJob's ``documentSource`` takes it."""
    return f"https://{bucket}.s3.amazonaws.com/{quote(key, safe='/-_.~')}"


def presigned_url_placeholder(bucket: str, key: str) -> str:
    """AWS IoT Jobs' placeholder, replaced by a presigned URL when a device reads the document.

    https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html
    (section "Presigned URLs").
    """
    return "${aws:iot:s3-presigned-url:" + s3_https_url(bucket, key) + "}"
