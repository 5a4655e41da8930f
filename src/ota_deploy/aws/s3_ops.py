"""The S3 calls of a run: make sure the bucket exists, upload the firmware, move documents.

Flow: ``deploy`` uploads the firmware once per run with boto3's managed transfer
(``upload_file``: multipart above ``multipart_threshold``, parts sent in parallel), under a key
that is unique per content (``core.plan.default_s3_key``), so two runs with different images
never collide and a re-run of the same image rewrites the same object. A rich progress bar is
drawn when the output is a terminal. A missing bucket is created, as the manual's
``OtaEnvBuild.sh`` does; in us-east-1 CreateBucket must carry no LocationConstraint, elsewhere
it must carry the region
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
Failures become ``AwsServiceError`` (exit 3) through ``aws.retry.call_aws``, whose backoff
waits on the injected ``TimeSource`` (the wall clock, ``SystemClock``, without one).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from ota_deploy.aws.retry import call_aws, error_code
from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.errors import AwsServiceError

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 8 * 1024 * 1024
T = TypeVar("T")


class S3Ops:
    """Thin wrapper over a boto3 ``s3`` client."""

    def __init__(self, client: Any, region: str, *, clock: TimeSource | None = None) -> None:
        self.client = client
        self.region = region
        self.clock: TimeSource = clock or SystemClock()

    def _call(
        self, fn: Callable[[], T], operation: str, passthrough: frozenset[str] = frozenset()
    ) -> T:
        return call_aws(fn, operation, sleep=self.clock.sleep, passthrough=passthrough)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self._call(
                lambda: self.client.head_bucket(Bucket=bucket),
                "HeadBucket",
                passthrough=frozenset({"404", "NoSuchBucket", "NotFound", "403"}),
            )
            return True
        except ClientError as err:
            if error_code(err) == "403":
                raise AwsServiceError(
                    f"S3 bucket {bucket!r} exists but is not accessible with these credentials "
                    "(bucket names are global; choose another bucket in dev.ini)",
                    code="AccessDenied",
                    operation="HeadBucket",
                ) from None
            return False

    def ensure_bucket(self, bucket: str) -> bool:
        """Create ``bucket`` if missing. True when it was created now."""
        if self.bucket_exists(bucket):
            return False
        self.create_bucket(bucket)
        return True

    def create_bucket(self, bucket: str) -> None:
        """CreateBucket, for a bucket just found missing. BucketAlreadyOwnedByYou is success:
        it is what a retry meets when the first attempt's reply was lost after S3 made it."""
        params: dict[str, Any] = {"Bucket": bucket}
        if self.region and self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call(
                lambda: self.client.create_bucket(**params),
                "CreateBucket",
                passthrough=frozenset({"BucketAlreadyOwnedByYou"}),
            )
        except ClientError:  # only the passthrough code comes back as a ClientError
            log.info(
                "S3 bucket %s in %s is already ours (an earlier attempt made it)",
                bucket,
                self.region,
            )
            return
        log.info("created S3 bucket %s in %s", bucket, self.region)

    def keys(self, bucket: str, *, limit: int = 1000) -> list[str] | None:
        """Up to ``limit`` object keys in ``bucket`` (one ListObjectsV2 page); None when the
        bucket does not exist."""
        try:
            page = self._call(
                lambda: self.client.list_objects_v2(Bucket=bucket, MaxKeys=limit),
                "ListObjectsV2",
                passthrough=frozenset({"NoSuchBucket", "404"}),
            )
        except ClientError:
            return None
        return [str(item["Key"]) for item in page.get("Contents", [])]

    def delete_bucket(self, bucket: str) -> bool:
        """DeleteBucket; False when it did not exist. A bucket that is not empty is an error."""
        try:
            self._call(
                lambda: self.client.delete_bucket(Bucket=bucket),
                "DeleteBucket",
                passthrough=frozenset({"NoSuchBucket", "404"}),
            )
            return True
        except ClientError:
            return False

    def upload_file(
        self, path: Path, bucket: str, key: str, *, progress: bool | None = None
    ) -> None:
        """Managed transfer (multipart for large files); a progress bar on a terminal."""
        show = sys.stdout.isatty() if progress is None else progress
        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=4)
        size = path.stat().st_size

        def upload(callback: Any = None) -> None:
            self._call(
                lambda: self.client.upload_file(
                    str(path), bucket, key, Config=config, Callback=callback
                ),
                "PutObject",
            )

        if not show:
            upload()
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TransferSpeedColumn,
        )

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(f"upload {path.name}", total=size)
            upload(lambda n: bar.advance(task, n))

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/json"
    ) -> None:
        self._call(
            lambda: self.client.put_object(
                Bucket=bucket, Key=key, Body=data, ContentType=content_type
            ),
            "PutObject",
        )

    def get_bytes(self, bucket: str, key: str) -> bytes:
        def get() -> bytes:
            body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body

        return self._call(get, "GetObject")

    def delete_object(self, bucket: str, key: str) -> bool:
        try:
            self._call(
                lambda: self.client.delete_object(Bucket=bucket, Key=key),
                "DeleteObject",
                passthrough=frozenset({"NoSuchBucket", "NoSuchKey", "404"}),
            )
            return True
        except ClientError:
            return False

    def object_size(self, bucket: str, key: str) -> int | None:
        """The object's size, or None when it (or the bucket) does not exist."""
        try:
            head = self._call(
                lambda: self.client.head_object(Bucket=bucket, Key=key),
                "HeadObject",
                passthrough=frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket", "403"}),
            )
            return int(head.get("ContentLength", 0))
        except ClientError:
            return None
