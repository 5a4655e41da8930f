"""CreateBucket for a bucket that is already ours (a retry whose first reply was lost) is
success, and the log says which of the two happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.local.s3 import LocalS3


@pytest.fixture
def local_s3() -> Iterator[str]:
    server = LocalS3()
    yield server.start()
    server.stop()


def test_a_bucket_already_ours_is_not_logged_as_created(
    local_s3: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Outside us-east-1 S3 answers a second CreateBucket with BucketAlreadyOwnedByYou.
    ops = S3Ops(AwsClients(local_target({"s3": local_s3}, "eu-west-1")).s3, "eu-west-1")
    caplog.set_level("INFO", logger="ota_deploy.aws.s3_ops")
    ops.create_bucket("owned-bucket")
    ops.create_bucket("owned-bucket")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "created S3 bucket owned-bucket in eu-west-1",
        "S3 bucket owned-bucket in eu-west-1 is already ours (an earlier attempt made it)",
    ]
    assert ops.bucket_exists("owned-bucket")
