"""S3 URL forms -> (bucket, key)."""

from __future__ import annotations

import pytest

from ota_deploy.core.s3url import parse_s3_url, presigned_url_placeholder, s3_https_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://b-1/k/x.json", ("b-1", "k/x.json")),
        ("https://b-1.s3.amazonaws.com/k/x.json", ("b-1", "k/x.json")),
        ("https://b-1.s3.us-west-2.amazonaws.com/k", ("b-1", "k")),
        ("https://my.bucket.s3.eu-west-1.amazonaws.com/a%20b", ("my.bucket", "a b")),
        ("https://b-1.s3-eu-west-1.amazonaws.com/k", ("b-1", "k")),
        ("https://s3.us-west-2.amazonaws.com/b-1/k/y", ("b-1", "k/y")),
        ("https://s3.amazonaws.com/b-1/k", ("b-1", "k")),
    ],
)
def test_s3url_forms(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(
    "url", ["https://example.com/x", "s3://b/", "s3://", "ftp://b/k", "https://s3.amazonaws.com/b"]
)
def test_s3url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_s3_url(url)


def test_s3url_round_trip_and_placeholder() -> None:
    url = s3_https_url("bkt", "a dir/f+1.bin")
    assert url == "https://bkt.s3.amazonaws.com/a%20dir/f%2B1.bin"
    assert parse_s3_url(url) == ("bkt", "a dir/f+1.bin")
    assert presigned_url_placeholder("bkt", "k/f.bin") == (
        "${aws:iot:s3-presigned-url:https://bkt.s3.amazonaws.com/k/f.bin}"
    )
