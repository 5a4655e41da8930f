"""``LocalIotService.call`` hands each handler its own copy of the params (``service.own_copy``):
records never alias the caller's data, and the caller's data is never changed by a call.

Why it matters: the HTTP front end and the MQTT handlers build params from a request and may
reuse or drop them; a record that kept a piece of them (a thing's attributes, a stream's file
list, a job's targets or configurations, an execution's statusDetails) would change when the
caller's dict did. The scene below runs every operation that stores a caller's container, then
scrambles every dict and list the caller passed, and checks the saved state did not move.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.unit.local.iot.conftest import Harness, group_arn, thing_arn

from ota_deploy.local.iot.service import own_copy

ROLE = "arn:aws:iam::123456789012:role/ota"


def _scene() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.dumps({"op": "ota", "url": "${aws:iot:s3-presigned-url:https://b.s3/k}"})
    return [
        (
            "iot",
            "CreateThingGroup",
            {
                "thingGroupName": "g",
                "thingGroupProperties": {
                    "thingGroupDescription": "fleet",
                    "attributePayload": {"attributes": {"site": "a"}},
                },
            },
        ),
        ("iot", "CreateThing", {"thingName": "t1", "attributePayload": {"attributes": {"k": "v"}}}),
        ("iot", "CreateThing", {"thingName": "t2"}),
        ("iot", "CreateThing", {"thingName": "t3"}),
        ("iot", "UpdateThing", {"thingName": "t2", "attributePayload": {"attributes": {"x": "y"}}}),
        ("iot", "AddThingToThingGroup", {"thingGroupName": "g", "thingName": "t1"}),
        (
            "iot",
            "CreateStream",
            {
                "streamId": "s",
                "files": [{"fileId": 0, "s3Location": {"bucket": "b", "key": "k"}}],
                "roleArn": ROLE,
                "description": "image",
            },
        ),
        (
            "iot",
            "UpdateStream",
            {"streamId": "s", "files": [{"fileId": 1, "s3Location": {"bucket": "b", "key": "k2"}}]},
        ),
        (
            "iot",
            "CreateJob",
            {
                "jobId": "j",
                "targets": [group_arn("g"), thing_arn("t2")],
                "document": document,
                "targetSelection": "CONTINUOUS",
                "documentParameters": {"p": "v"},
                "presignedUrlConfig": {"roleArn": ROLE, "expiresInSec": 600},
                "jobExecutionsRolloutConfig": {"maximumPerMinute": 100},
                "abortConfig": {
                    "criteriaList": [
                        {
                            "failureType": "FAILED",
                            "action": "CANCEL",
                            "thresholdPercentage": 90,
                            "minNumberOfExecutedThings": 10,
                        }
                    ]
                },
                "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
                "jobExecutionsRetryConfig": {
                    "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]
                },
            },
        ),
        (
            "iot",
            "UpdateJob",
            {
                "jobId": "j",
                "description": "d",
                "jobExecutionsRolloutConfig": {"maximumPerMinute": 5},
            },
        ),
        (
            "iot-jobs-data",
            "StartNextPendingJobExecution",
            {"thingName": "t1", "statusDetails": {"step": "download"}, "stepTimeoutInMinutes": 5},
        ),
        (
            "iot-jobs-data",
            "UpdateJobExecution",
            {
                "thingName": "t1",
                "jobId": "j",
                "status": "IN_PROGRESS",
                "statusDetails": {"progress": "50%"},
                "includeJobExecutionState": True,
            },
        ),
        (
            "iot",
            "AssociateTargetsWithJob",
            {"jobId": "j", "targets": [thing_arn("t3")], "comment": "more"},
        ),
        (
            "iot",
            "CancelJobExecution",
            {"jobId": "j", "thingName": "t2", "statusDetails": {"why": "operator"}},
        ),
        ("iot", "UpdateEventConfigurations", {"eventConfigurations": {"JOB": {"Enabled": True}}}),
    ]


def _scramble(value: Any) -> None:
    """Change every dict and list inside ``value`` in place (what a careless caller might do)."""
    if isinstance(value, dict):
        for key in list(value):
            item = value[key]
            _scramble(item)
            if isinstance(item, str):
                value[key] = item + "-changed"
        value["added-by-caller"] = "x"
    elif isinstance(value, list):
        for item in value:
            _scramble(item)
        value.append("added-by-caller")


def test_records_never_alias_the_callers_params(h: Harness) -> None:
    for service, operation, params in _scene():
        sent = copy.deepcopy(params)
        h.svc.call(service, operation, params)
        assert params == sent, f"{operation} changed the caller's params"
        saved = h.svc.dump_state()
        _scramble(params)
        assert h.svc.dump_state() == saved, f"{operation} keeps a part of the caller's params"
    # the scene reached what it means to check: stored containers of each kind
    state = h.svc.dump_state()
    assert {t["name"] for t in state["things"]} == {"t1", "t2", "t3"}
    assert [s["stream_id"] for s in state["streams"]] == ["s"]
    assert [j["job_id"] for j in state["jobs"]] == ["j"]
    execution = h.svc.call(
        "iot-jobs-data", "DescribeJobExecution", {"thingName": "t1", "jobId": "j"}
    )
    assert execution["execution"]["statusDetails"] == {"progress": "50%"}


def test_results_do_not_alias_the_records(h: Harness) -> None:
    """The other direction, as DescribeJob's docstring promises: a caller that changes a result
    does not change the records."""
    for service, operation, params in _scene():
        h.svc.call(service, operation, params)
    saved = h.svc.dump_state()
    for service, operation, params in [
        ("iot", "DescribeThing", {"thingName": "t1"}),
        ("iot", "DescribeThingGroup", {"thingGroupName": "g"}),
        ("iot", "DescribeStream", {"streamId": "s"}),
        ("iot", "DescribeJob", {"jobId": "j"}),
        ("iot-jobs-data", "DescribeJobExecution", {"thingName": "t1", "jobId": "j"}),
    ]:
        _scramble(h.svc.call(service, operation, params))
    assert h.svc.dump_state() == saved


# ---- own_copy itself -------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def _containers(value: Any) -> list[int]:
    """The ids of every dict and list in ``value``."""
    if isinstance(value, dict):
        return [id(value), *(i for v in value.values() for i in _containers(v))]
    if isinstance(value, list):
        return [id(value), *(i for v in value for i in _containers(v))]
    return []


@given(st.dictionaries(st.text(max_size=6), JSON, max_size=6))
def test_own_copy_is_equal_and_shares_no_container(params: dict[str, Any]) -> None:
    copied = own_copy(params)
    assert copied == params
    assert not set(_containers(copied)) & set(_containers(params))


def test_own_copy_deep_copies_what_is_not_json() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    params: dict[str, Any] = {"blob": b"\x00", "set": {1, 2}, "raw": bytearray(b"ab"), "at": when}
    copied = own_copy(params)
    assert copied == params
    assert copied["set"] is not params["set"] and copied["raw"] is not params["raw"]
    assert copied["blob"] is params["blob"]  # immutable: shared
