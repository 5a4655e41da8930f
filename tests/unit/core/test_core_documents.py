"""Job documents: template, merge order, signature, presigned URL, custom JSON parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ota_deploy.core.documents import (
    encode_document,
    job_document,
    load_custom_document_file,
    parse_custom_document,
    stream_request,
)
from ota_deploy.core.firmware import Firmware

FW = Firmware(
    path=Path("fw.bin"),
    size=382432,
    md5_hex="afcba86284d600cd21f54dca7c6d8bb6",
    sha256_hex="0" * 64,
)
SIGNED = Firmware(
    path=Path("fw.bin"),
    size=10,
    md5_hex="a" * 32,
    sha256_hex="0" * 64,
    signature_b64="MEUCIQ==",
    signature_algorithm="SHA256withECDSA",
)


def test_documents_manual_template() -> None:
    doc = job_document(stream_id="TestStream55667788", file_id=69, firmware=FW, image_version="1")
    assert doc == {
        "command": "fota",
        "streamId": "TestStream55667788",
        "fileId": 69,
        "fileSize": 382432,
        "imageVer": "1",
        "md5sum": "afcba86284d600cd21f54dca7c6d8bb6",
    }
    assert list(doc) == ["command", "streamId", "fileId", "fileSize", "imageVer", "md5sum"]


def test_documents_manual_job_temp_merge() -> None:
    custom = {"Info1": "123", "Info2": "456", "Info3": "789", "fileSize": 1, "extra": {"a": [1]}}
    doc = job_document(stream_id="S", file_id=35, firmware=FW, image_version="1", custom=custom)
    assert list(doc)[:4] == ["Info1", "Info2", "Info3", "extra"]
    assert doc["fileSize"] == 382432  # runtime overwrites
    assert custom["fileSize"] == 1  # the caller's dict is not modified


def test_documents_signed_replaces_md5() -> None:
    doc = job_document(
        stream_id="S", file_id=1, firmware=SIGNED, image_version="2", custom={"md5sum": "stale"}
    )
    assert "md5sum" not in doc
    assert doc["signature"] == "MEUCIQ==" and doc["signatureAlgorithm"] == "SHA256withECDSA"


def test_documents_presigned_url_and_encoding() -> None:
    doc = job_document(
        stream_id="S", file_id=1, firmware=FW, image_version="1", presigned=("bkt", "dir/fw 1.bin")
    )
    assert doc["url"] == "${aws:iot:s3-presigned-url:https://bkt.s3.amazonaws.com/dir/fw%201.bin}"
    text = encode_document({"a": "é", "b": 1})
    assert text == '{"a":"é","b":1}'


def test_documents_stream_request() -> None:
    req = stream_request(
        stream_id="S",
        file_id=69,
        bucket="b",
        key="69/aws_demo.bin",
        role_arn="arn:aws:iam::482862934379:role/iotlabtpe-ota",
    )
    assert req == {
        "streamId": "S",
        "description": "This stream is used for sending 1 ota stream file to devices.",
        "files": [{"fileId": 69, "s3Location": {"bucket": "b", "key": "69/aws_demo.bin"}}],
        "roleArn": "arn:aws:iam::482862934379:role/iotlabtpe-ota",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"Info1": "123",\n}', "no comma before a closing"),
        ("[1, 2]", "JSON object"),
        ("not json", "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
        ("", "not valid JSON"),
    ],
)
def test_documents_custom_parse_errors(text: str | bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        parse_custom_document(text, source="job_temp.json")
    assert "job_temp.json" in str(info.value)


def test_documents_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text('{"a": 1}')
    assert load_custom_document_file(path) == {"a": 1}
    with pytest.raises(ValueError, match="not found"):
        load_custom_document_file(tmp_path / "missing.json")
