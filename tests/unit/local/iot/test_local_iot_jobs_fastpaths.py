"""The shortcuts on the Jobs request path answer exactly what the general path answers.

- ``compact_json.compact_bytes`` (one C encoder for every reply and notify message) gives the
  bytes of ``json.dumps(body, separators=(",", ":"))``;
- ``jobs_data.has_control_character`` (``str.isprintable`` first) agrees with the scan for
  Unicode category C it replaces, for every code point and for any text;
- ``jobs_data._execution_status`` (a dict lookup) agrees with ``parse_execution_status``;
- ``JobsMqttHandler``'s parsed-topic cache, however small, and its params handed over to the
  service uncopied (``call_handed_over``) reply byte for byte what a handler parsing every
  topic and calling ``call`` replies, on the real service.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.service import memory_service

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.status import parse_execution_status
from ota_deploy.local.iot import jobs_data
from ota_deploy.local.iot.compact_json import compact_bytes
from ota_deploy.local.reserved import jobs_mqtt
from ota_deploy.local.reserved import jobs_protocol as proto
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON, max_size=6) | _JSON)
def test_compact_bytes_is_json_dumps_compact(body: Any) -> None:
    assert compact_bytes(body) == json.dumps(body, separators=(",", ":")).encode()


def _scan(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def test_printable_means_no_control_character_for_every_code_point() -> None:
    wrong = [
        cp
        for cp in range(sys.maxunicode + 1)
        if jobs_data.has_control_character(chr(cp)) != _scan(chr(cp))
    ]
    assert wrong == []


@given(st.text())
def test_has_control_character_is_the_category_scan(value: str) -> None:
    assert jobs_data.has_control_character(value) == _scan(value)


@given(st.sampled_from(["QUEUED", "IN_PROGRESS", "SUCCEEDED", "REMOVED", "x", ""]) | _SCALARS)
def test_execution_status_lookup_is_parse_execution_status(value: Any) -> None:
    assert jobs_data._execution_status(value) is parse_execution_status(value)


def _scene() -> tuple[JobsMqttHandler, FakeClock]:
    clock = FakeClock(1_700_000_000.0)
    svc = memory_service(clock, read_blob=lambda bucket, key, version: b"")
    for thing in ("a", "b"):
        arn = svc.call("iot", "CreateThing", {"thingName": thing})["thingArn"]
        for job in ("j1", "j2"):
            svc.call(
                "iot",
                "CreateJob",
                {"jobId": f"{job}-{thing}", "targets": [arn], "document": json.dumps({"op": job})},
            )
    return JobsMqttHandler(svc, clock), clock


def _requests() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for thing in ("a", "b", "ghost"):
        base = f"$aws/things/{thing}/jobs"
        out += [
            (f"{base}/get", {}),
            (f"{base}/start-next", {"clientToken": "t", "statusDetails": {"k": "v"}}),
            (f"{base}/j1-{thing}/get", {}),
            (
                f"{base}/j1-{thing}/update",
                {"status": "IN_PROGRESS", "expectedVersion": 2, "includeJobExecutionState": True},
            ),
            (f"{base}/j1-{thing}/update", {"status": "IN_PROGRESS", "expectedVersion": 9}),
            (f"{base}/j1-{thing}/update", {"status": "SUCCEEDED", "statusDetails": {"k": "\x00"}}),
            (f"{base}/j1-{thing}/update", {"status": "SUCCEEDED", "includeJobDocument": True}),
            (f"{base}/$next/get", {}),
            (f"{base}/start-next", {}),
            (f"{base}/nope/nope/nope", {}),
        ]
    return out * 2


@pytest.mark.parametrize("cache_max", [1, 2, 3, jobs_mqtt.TOPIC_CACHE_MAX])
def test_topic_cache_replies_as_parsing_every_topic(
    cache_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_mqtt, "TOPIC_CACHE_MAX", cache_max)
    cached, clock_a = _scene()
    general, clock_b = _scene()
    general._parse_topic = proto.parse_jobs_topic  # type: ignore[method-assign]
    general._hand_over = False  # params copied by ``call``, as any caller's are
    got: list[tuple[str, bytes]] = []
    want: list[tuple[str, bytes]] = []
    for topic, body in _requests():
        payload = json.dumps(body).encode()
        cached.handle("c", topic, payload, lambda t, p: got.append((t, p)))
        general.handle("c", topic, payload, lambda t, p: want.append((t, p)))
        clock_a.advance(1.0)
        clock_b.advance(1.0)
    assert cached._hand_over
    assert got == want
    assert len(cached._topics) <= cache_max
    assert any(t.endswith("/accepted") for t, _ in got) and any(
        t.endswith("/rejected") for t, _ in got
    )
