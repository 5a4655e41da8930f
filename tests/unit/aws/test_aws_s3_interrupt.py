"""Ctrl-C during a multipart upload: the interrupt reaches the caller and nothing else is printed
(issue 10 §8: awscrt printed a traceback for every part the cancel caught mid-read).

The cancel is made to land exactly where it used to print: a part about to be signed. With
botocore's awscrt signer, a signed payload is read (hashed) through awscrt at that point, and
the read raises the transfer's CancelledError inside awscrt, which prints it. The S3 clients of
``aws.session`` send the payload unsigned, so the signer never reads the body.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.local.s3 import LocalS3


@pytest.fixture
def local_s3() -> Iterator[str]:
    server = LocalS3()
    yield server.start()
    server.stop()


def test_ctrl_c_mid_upload_prints_nothing(
    tmp_path: Path, local_s3: str, capfd: pytest.CaptureFixture[str]
) -> None:
    client = AwsClients(local_target({"s3": local_s3}, "us-east-1")).s3
    ops = S3Ops(client, "us-east-1")
    ops.ensure_bucket("interrupt-bucket")
    image = tmp_path / "image.bin"
    with image.open("wb") as fh:
        fh.truncate(24 * 1024 * 1024)  # 3 parts of 8 MiB
    parts = [0]

    def ctrl_c_before_the_second_part_is_signed(**_: Any) -> None:
        parts[0] += 1
        if parts[0] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C: it wakes the waiting caller
            time.sleep(0.3)  # the main thread cancels the transfer meanwhile

    client.meta.events.register(
        "before-sign.s3.UploadPart", ctrl_c_before_the_second_part_is_signed
    )
    with pytest.raises(KeyboardInterrupt):
        ops.upload_file(image, "interrupt-bucket", "image.bin", progress=False)
        time.sleep(5)  # (the interrupt lands in the upload, never here)
    printed = capfd.readouterr()
    assert parts[0] >= 2
    assert "Traceback" not in printed.err + printed.out
    assert "Treating Python exception" not in printed.err + printed.out
