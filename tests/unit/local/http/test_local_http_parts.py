"""Router, validator, error serialiser, Java-regex translation and fault injector, one by one."""

from __future__ import annotations

import json
import random
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser
from botocore.utils import percent_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.core.aws_model import service_model
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.faults import FaultConfig, FaultInjector
from ota_deploy.local.http.app import RestJsonFrontEnd, router_for
from ota_deploy.local.http.javaregex import java_regex
from ota_deploy.local.http.routes import Router, parse_request_uri
from ota_deploy.local.http.serialize import serialize_error
from ota_deploy.local.http.validate import validation_errors

LABEL_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


class Echo:
    def __init__(self) -> None:
        self.params: dict[str, Any] | None = None

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.params = params
        return {}


# -- routing ---------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(label=LABEL_TEXT)
def test_labels_needing_url_quoting_survive_routing(label: str) -> None:
    router = router_for("iot")
    raw = "/jobs/" + percent_encode(label, safe="") + "/things"
    match = router.match("GET", raw, {})
    assert match is not None
    assert match.operation.name == "ListJobExecutionsForJob"
    assert match.labels == {"jobId": label}


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(LABEL_TEXT.filter(lambda s: "/" not in s), min_size=1, max_size=4))
def test_greedy_label_takes_the_rest_of_the_path(parts: list[str]) -> None:
    value = "/".join(parts)
    raw = "/destinations/" + percent_encode(value, safe="/~")
    match = router_for("iot").match("GET", raw, {})
    assert match is not None
    assert match.operation.name == "GetTopicRuleDestination"
    assert match.labels == {"arn": value}


def test_literal_segment_beats_label() -> None:
    router = router_for("iot-jobs-data")
    start = router.match("PUT", "/things/t1/jobs/%24next", {})
    assert start is not None and start.operation.name == "StartNextPendingJobExecution"
    describe = router.match("GET", "/things/t1/jobs/%24next", {})
    assert describe is not None and describe.operation.name == "DescribeJobExecution"
    assert describe.labels == {"thingName": "t1", "jobId": "$next"}


def test_query_literals_in_request_uri_are_required() -> None:
    route = parse_request_uri("POST", "/x/{jobId}?verb&mode=a", "DescribeJob")
    assert route.query == (("verb", None), ("mode", "a"))
    router = Router(botocore.session.get_session().get_service_model("iot"))
    router._exact = {("POST", 2): [route]}  # a one-route router over a made-up URI
    router._greedy = {}
    hit = router.match("POST", "/x/j1?verb&mode=a", "verb&mode=a")
    assert hit is not None and hit.labels == {"jobId": "j1"}
    assert router.match("POST", "/x/j1", {"mode": "a"}) is None
    assert router.match("POST", "/x/j1", {"verb": "", "mode": "b"}) is None


def test_unknown_route_and_method() -> None:
    router = router_for("iot")
    assert router.match("GET", "/nothing/here", {}) is None
    assert router.match("POST", "/jobs/j1", {}) is None  # only PUT/GET/PATCH/DELETE exist


# -- parsing + validation through the front end ---------------------------------------------
def handle(service: str, method: str, path: str, body: Any = None, query: Any = ()) -> Any:
    echo = Echo()
    raw = json.dumps(body).encode() if body is not None else b""
    reply = RestJsonFrontEnd(service, echo).handle(method, path, list(query), {}, raw)
    return reply, echo.params


def test_querystring_types_are_converted() -> None:
    reply, params = handle(
        "iot", "DELETE", "/jobs/j1", query=[("force", "true"), ("namespaceId", "ns")]
    )
    assert reply.status == 200
    assert params == {"jobId": "j1", "force": True, "namespaceId": "ns"}
    reply, params = handle("iot", "GET", "/jobs", query=[("maxResults", "7")])
    assert params == {"maxResults": 7}


def test_bad_querystring_integer_names_the_member() -> None:
    reply, params = handle("iot", "GET", "/jobs", query=[("maxResults", "seven")])
    assert reply.status == 400
    assert reply.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert "'maxResults'" in json.loads(reply.body)["message"]
    assert params is None


def test_malformed_json_body_is_a_400() -> None:
    echo = Echo()
    reply = RestJsonFrontEnd("iot", echo).handle("PUT", "/jobs/j1", [], {}, b"{not json")
    assert reply.status == 400
    assert reply.headers["x-amzn-ErrorType"] == "SerializationException"


def create_job_errors(**params: Any) -> list[str]:
    shape = service_model("iot").operation_model("CreateJob").input_shape
    base = {"jobId": "j1", "targets": ["arn:aws:iot:us-east-1:123456789012:thing/t"]}
    return validation_errors(shape, {**base, **params})


def test_validator_checks_what_botocore_skips() -> None:
    assert create_job_errors() == []
    (enum,) = create_job_errors(targetSelection="SOMETIMES")
    assert "at 'targetSelection'" in enum and "enum value set: [CONTINUOUS, SNAPSHOT]" in enum
    (pattern,) = create_job_errors(jobId="j 1")
    assert "at 'jobId'" in pattern and "regular expression pattern" in pattern
    (too_long,) = create_job_errors(document="x" * 32769)
    assert "at 'document'" in too_long and "less than or equal to 32768" in too_long
    (nested,) = create_job_errors(
        abortConfig={"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                                       "thresholdPercentage": 101.0,
                                       "minNumberOfExecutedThings": 1}]}
    )  # fmt: skip
    assert "at 'abortConfig.criteriaList.1.member.thresholdPercentage'" in nested
    assert "less than or equal to 100" in nested
    missing = validation_errors(
        service_model("iot").operation_model("CreateJob").input_shape, {"jobId": "j1"}
    )
    assert missing == [
        "Value null at 'targets' failed to satisfy constraint: Member must not be null"
    ]


def test_documented_precision_of_abort_thresholds_and_increment_factor() -> None:
    # "up to two digits after the decimal (for example, 10.9 and 10.99, but not 10.999)"
    # (API_AbortCriteria.html, API_AwsJobAbortCriteria.html); incrementFactor "up to one digit
    # after the decimal (for example, 1.5, but not 1.55)" (API_ExponentialRolloutRate.html).
    def criterion(threshold: float) -> dict[str, Any]:
        return {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": threshold,
                "minNumberOfExecutedThings": 1}  # fmt: skip

    def factor(value: float) -> dict[str, Any]:
        rate = {"baseRatePerMinute": 1, "incrementFactor": value,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}  # fmt: skip
        return {"exponentialRate": rate}

    for good in (10.0, 10.9, 10.99, 100.0, 50):
        assert create_job_errors(abortConfig={"criteriaList": [criterion(good)]}) == []
    (too_precise,) = create_job_errors(abortConfig={"criteriaList": [criterion(10.999)]})
    assert too_precise == (
        "Value '10.999' at 'abortConfig.criteriaList.1.member.thresholdPercentage' failed to "
        "satisfy constraint: Member must have at most 2 digits after the decimal point"
    )
    for good in (1.5, 2.0, 5):
        assert create_job_errors(jobExecutionsRolloutConfig=factor(good)) == []
    (factor_error,) = create_job_errors(jobExecutionsRolloutConfig=factor(1.55))
    assert "at 'jobExecutionsRolloutConfig.exponentialRate.incrementFactor'" in factor_error
    assert "at most 1 digit after the decimal point" in factor_error
    ota_abort = {"abortCriteriaList": [criterion(0.001)]}
    shape = service_model("iot").operation_model("CreateOTAUpdate").input_shape
    errors = validation_errors(shape, {"awsJobAbortConfig": ota_abort})  # (and the required)
    (ota,) = [e for e in errors if "thresholdPercentage" in e]
    assert "awsJobAbortConfig.abortCriteriaList.1.member.thresholdPercentage" in ota
    assert "at most 2 digits" in ota


def test_huge_values_are_quoted_as_excerpts() -> None:
    (too_long,) = create_job_errors(document="x" * 1_000_000)
    assert "...<" in too_long and "characters omitted>..." in too_long
    assert len(too_long) < 500
    (too_big,) = create_job_errors(jobExecutionsRolloutConfig={"maximumPerMinute": 10**3000})
    assert "characters omitted" in too_big and len(too_big) < 500
    reply, _ = handle("iot", "GET", "/nowhere/" + "p" * 100_000)
    assert reply.status == 404 and len(reply.body) < 500


def test_validation_message_counts_errors() -> None:
    reply, _ = handle(
        "iot", "PUT", "/jobs/bad%20id", body={"targets": ["x"], "targetSelection": "NOPE"}
    )
    message = json.loads(reply.body)["message"]
    assert message.startswith("2 validation errors detected: ")


# -- errors as botocore reads them ----------------------------------------------------------
def parse_error(service: str, operation: str, err: AwsError) -> tuple[int, dict[str, Any]]:
    status, headers, body = serialize_error(service_model(service), err)
    op = service_model(service).operation_model(operation)
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, op.output_shape
    )
    return status, parsed


def test_modeled_error_status_and_members() -> None:
    status, parsed = parse_error(
        "iot",
        "CreateJob",
        AwsError("ResourceAlreadyExistsException", "exists", 400, resourceId="j1",
                 resourceArn="arn:aws:iot:us-east-1:123456789012:job/j1"),
    )  # fmt: skip
    assert status == 409  # the model's status wins over the one given
    assert parsed["Error"] == {"Code": "ResourceAlreadyExistsException", "Message": "exists"}
    status, parsed = parse_error(
        "iot", "CreateJob", AwsError("LimitExceededException", "too many", 400)
    )
    assert status == 410


def test_unmodeled_error_keeps_given_status_and_extras() -> None:
    state = {"status": "SUCCEEDED", "versionNumber": 3}
    status, headers, body = serialize_error(
        service_model("iot"),
        AwsError("SomethingUnmodeled", "odd", 418, executionState=state),
    )
    assert status == 418
    assert headers["x-amzn-ErrorType"] == "SomethingUnmodeled"
    assert json.loads(body) == {"message": "odd", "executionState": state}


def test_version_conflict_on_jobs_data_is_its_modeled_409_with_execution_state() -> None:
    state = {"status": "IN_PROGRESS", "versionNumber": 3}
    status, headers, body = serialize_error(
        service_model("iot-jobs-data"),
        AwsError("VersionConflictException", "stale", 409, executionState=state),
    )
    assert status == 409
    assert headers["x-amzn-ErrorType"] == "InvalidStateTransitionException"
    assert json.loads(body) == {"message": "stale", "executionState": state}
    # The control plane keeps its own modeled VersionConflictException.
    _, iot_headers, _ = serialize_error(
        service_model("iot"), AwsError("VersionConflictException", "stale", 409)
    )
    assert iot_headers["x-amzn-ErrorType"] == "VersionConflictException"


def test_unsupported_operation_is_501() -> None:
    class Partial(Echo):
        def supports(self, service: str, operation: str) -> bool:
            return operation != "DescribeJob"

    reply = RestJsonFrontEnd("iot", Partial()).handle("GET", "/jobs/j1", [], {}, b"")
    assert reply.status == 501
    assert reply.headers["x-amzn-ErrorType"] == "NotImplementedException"


def test_service_crash_is_internal_failure() -> None:
    class Broken(Echo):
        def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("boom")

    reply = RestJsonFrontEnd("iot", Broken()).handle("GET", "/jobs/j1", [], {}, b"")
    assert reply.status == 500
    assert reply.headers["x-amzn-ErrorType"] == "InternalFailureException"


# -- Java regex translation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        ("[\\p{Graph}\\x20]*", "a b~", "a\tb"),
        ("[\\p{Upper}\\p{Digit}_]+", "AB_9", "Ab"),
        ("[^\\p{C}]+", "héllo wörld", "a\x00b"),
        ("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$", "Ünïcode 12:/=", "semi;colon"),
        ("[a-zA-Z0-9_-]+|^\\$next", "$next", "$nexter"),
    ],
)
def test_java_patterns(pattern: str, good: str, bad: str) -> None:
    rx = java_regex(pattern)
    assert rx is not None
    assert rx.fullmatch(good)
    assert not rx.fullmatch(bad)


# -- faults ----------------------------------------------------------------------------------
def test_fault_decisions_replay_from_a_seed() -> None:
    cfg = FaultConfig(throttle_rate=0.3, error_rate=0.2, drop_rate=0.1, latency_ms=10,
                      latency_rate=0.5, seed=42)  # fmt: skip
    first = [FaultInjector(cfg).decide("iot", "DescribeJob") for _ in range(1)]
    a, b = FaultInjector(cfg), FaultInjector(cfg)
    seq_a = [a.decide("iot", "DescribeJob") for _ in range(200)]
    seq_b = [b.decide("iot", "DescribeJob") for _ in range(200)]
    assert seq_a == seq_b
    assert first[0] == seq_a[0]


def test_fault_shares_follow_the_rates() -> None:
    cfg = FaultConfig(throttle_rate=0.5, seed=1)
    injector = FaultInjector(cfg, rng=random.Random(1))
    actions = [injector.decide("iot", "ListJobs").action for _ in range(2000)]
    share = actions.count("throttle") / len(actions)
    assert 0.45 < share < 0.55
    assert set(actions) == {"throttle", None}


def test_fault_operation_filter_and_inactive_config() -> None:
    injector = FaultInjector(FaultConfig(throttle_rate=1.0, operations=frozenset({"DescribeJob"})))
    assert injector.decide("iot", "DescribeJob").action == "throttle"
    assert injector.decide("iot", "ListJobs").action is None
    assert FaultInjector().decide("iot", "DescribeJob").action is None
    latency = FaultInjector(FaultConfig(latency_ms=250)).decide("iot", "ListJobs")
    assert latency.latency_s == 0.25 and latency.action is None


def test_fault_config_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="throttle_rate"):
        FaultConfig(throttle_rate=1.5)
    with pytest.raises(ValueError, match="latency_ms"):
        FaultConfig(latency_ms=-1)


def _constrained_members() -> list[tuple[str, str, str]]:
    """(service, operation, member) for top-level string members with a max length or enum."""
    found = []
    for service in ("iot", "iot-jobs-data"):
        model = service_model(service)
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            if shape is None:
                continue
            for member, mshape in shape.members.items():
                if mshape.type_name == "string" and ("max" in mshape.metadata or mshape.enum):
                    found.append((service, name, member))
    return found


CONSTRAINED = _constrained_members()


@settings(max_examples=60, deadline=None)
@given(pick=st.sampled_from(CONSTRAINED), extra=st.integers(min_value=1, max_value=5))
def test_any_too_long_or_unlisted_string_names_its_member(
    pick: tuple[str, str, str], extra: int
) -> None:
    service, operation, member = pick
    shape = service_model(service).operation_model(operation).input_shape
    mshape = shape.members[member]
    if mshape.enum:
        value = "Z" * extra + "_NOT_IN_ENUM"
    else:
        value = "a" * (int(mshape.metadata["max"]) + extra)
    errors = validation_errors(shape, {member: value})
    assert any(f"at '{member}'" in e for e in errors)
