"""The Jobs MQTT API handler against the real local AWS IoT: topics, payload shapes, codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.aws_pair import AwsPair

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.reserved import jobs_protocol as proto
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler

T = "thing-1"
BASE = f"$aws/things/{T}/jobs"
DOC = {"operation": "ota", "files": [{"fileid": 0}]}


class Replies:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.items.append((topic, json.loads(payload)))

    def only(self) -> tuple[str, dict[str, Any]]:
        assert len(self.items) == 1, self.items
        return self.items[0]


@pytest.fixture
def handler(iot: Any, clock: FakeClock) -> JobsMqttHandler:
    iot.add_thing(T)
    return JobsMqttHandler(iot, clock)


def ask(h: JobsMqttHandler, topic: str, body: Any = None, raw: bytes | None = None):
    replies = Replies()
    payload = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    assert h.handles(topic)
    assert h.handle("client", topic, payload, replies) is None
    return replies.only()


def test_handles_request_topics_only(handler: JobsMqttHandler) -> None:
    assert handler.handles(f"{BASE}/get")
    assert handler.handles(f"{BASE}/start-next")
    assert handler.handles(f"{BASE}/job1/get")
    assert handler.handles(f"{BASE}/$next/get")
    assert handler.handles(f"{BASE}/job1/update")
    assert handler.handles(f"{BASE}/bogus/thing/here")  # answered with InvalidTopic
    assert not handler.handles(f"{BASE}/get/accepted")
    assert not handler.handles(f"{BASE}/job1/update/rejected")
    assert not handler.handles(f"{BASE}/notify")
    assert not handler.handles(f"{BASE}/notify-next")
    assert not handler.handles("$aws/things/T/shadow/get")
    assert not handler.handles("$aws/things/T/streams/s/get/json")
    assert not handler.handles("plain/topic")


def test_get_pending_lists_in_progress_and_queued(handler, iot, clock) -> None:
    iot.add_job("j1", T, DOC)
    clock.advance(5)
    iot.add_job("j2", T, DOC)
    ask(handler, f"{BASE}/start-next")
    topic, body = ask(handler, f"{BASE}/get", {"clientToken": "tok"})
    assert topic == f"{BASE}/get/accepted"
    assert body["clientToken"] == "tok"
    assert body["timestamp"] == int(clock.now())
    assert [j["jobId"] for j in body["inProgressJobs"]] == ["j1"]
    assert [j["jobId"] for j in body["queuedJobs"]] == ["j2"]
    queued = body["queuedJobs"][0]
    assert set(queued) == {"jobId", "queuedAt", "lastUpdatedAt", "versionNumber", "executionNumber"}
    assert queued["queuedAt"] == 1_700_000_005  # whole epoch seconds
    assert isinstance(body["inProgressJobs"][0]["startedAt"], int)


def test_start_next_returns_execution_with_document_object(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    topic, body = ask(
        handler,
        f"{BASE}/start-next",
        {"clientToken": "c1", "statusDetails": {"step": "download"}, "stepTimeoutInMinutes": 5},
    )
    assert topic == f"{BASE}/start-next/accepted"
    ex = body["execution"]
    assert ex["jobId"] == "j1"
    assert ex["thingName"] == T
    assert ex["status"] == "IN_PROGRESS"
    assert ex["statusDetails"] == {"step": "download"}
    assert ex["jobDocument"] == DOC  # an object over MQTT, not a string
    assert ex["versionNumber"] == 2
    assert isinstance(ex["queuedAt"], int) and isinstance(ex["startedAt"], int)
    assert body["clientToken"] == "c1"
    _, _, params = iot.calls[-1]
    assert params == {
        "thingName": T,
        "statusDetails": {"step": "download"},
        "stepTimeoutInMinutes": 5,
    }


def test_start_next_with_nothing_pending_has_no_execution(handler) -> None:
    topic, body = ask(handler, f"{BASE}/start-next", {"clientToken": "x"})
    assert topic == f"{BASE}/start-next/accepted"
    assert "execution" not in body
    assert body["clientToken"] == "x"


def test_describe_includes_document_by_default(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    topic, body = ask(handler, f"{BASE}/j1/get")
    assert topic == f"{BASE}/j1/get/accepted"
    assert body["execution"]["jobDocument"] == DOC
    _, body = ask(handler, f"{BASE}/j1/get", {"includeJobDocument": False})
    assert "jobDocument" not in body["execution"]


def test_describe_next(handler, iot) -> None:
    _, body = ask(handler, f"{BASE}/$next/get")
    assert "execution" not in body  # nothing pending: accepted, empty
    iot.add_job("j9", T, DOC)
    topic, body = ask(handler, f"{BASE}/$next/get", {"clientToken": "n"})
    assert topic == f"{BASE}/$next/get/accepted"
    assert body["execution"]["jobId"] == "j9"


def test_update_accepted_with_state_and_document(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    ask(handler, f"{BASE}/start-next")
    topic, body = ask(
        handler,
        f"{BASE}/j1/update",
        {
            "status": "SUCCEEDED",
            "statusDetails": {"result": "ok"},
            "expectedVersion": 2,
            "includeJobExecutionState": True,
            "includeJobDocument": True,
            "clientToken": "u",
        },
    )
    assert topic == f"{BASE}/j1/update/accepted"
    assert body["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"result": "ok"},
        "versionNumber": 3,
    }
    assert body["jobDocument"] == DOC
    assert body["clientToken"] == "u"
    topic, body = ask(handler, f"{BASE}/j1/update", {"status": "IN_PROGRESS"})
    assert topic == f"{BASE}/j1/update/rejected"
    assert body["code"] == "InvalidStateTransition"
    assert body["executionState"]["status"] == "SUCCEEDED"


def test_update_minimal_accepted_payload(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    _, body = ask(handler, f"{BASE}/j1/update", {"status": "IN_PROGRESS"})
    assert set(body) == {"timestamp"}


def test_version_mismatch_carries_execution_state(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    topic, body = ask(
        handler,
        f"{BASE}/j1/update",
        {"status": "IN_PROGRESS", "expectedVersion": 7, "clientToken": "v"},
    )
    assert topic == f"{BASE}/j1/update/rejected"
    assert body["code"] == "VersionMismatch"
    assert body["clientToken"] == "v"
    assert body["executionState"] == {"status": "QUEUED", "statusDetails": {}, "versionNumber": 1}
    assert isinstance(body["timestamp"], int) and body["message"]


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        (f"{BASE}/get", b"{not json", "InvalidJson"),
        (f"{BASE}/get", b"[1, 2]", "InvalidJson"),
        (f"{BASE}/j1/update", b"{}", "InvalidRequest"),  # no status
        (
            f"{BASE}/j1/update",
            b'{"status": "IN_PROGRESS", "expectedVersion": "one"}',  # "1" is accepted
            "InvalidRequest",
        ),
        (
            f"{BASE}/j1/update",
            b'{"status": "IN_PROGRESS", "statusDetails": {"a": 1}}',
            "InvalidRequest",
        ),
        (f"{BASE}/j1/update", b'{"status": "DONE"}', "InvalidRequest"),  # no such status
        (f"{BASE}/j1/get", b'{"includeJobDocument": "yes"}', "InvalidRequest"),
        (f"{BASE}/get", b'{"clientToken": 5}', "InvalidRequest"),
        (f"{BASE}/nope/get", b"{}", "ResourceNotFound"),
        (f"{BASE}/a/b/c", b"{}", "InvalidTopic"),
        (f"{BASE}/notify-next/x", b"{}", "InvalidTopic"),
    ],
)
def test_rejections(handler, iot, topic: str, payload: bytes, code: str) -> None:
    iot.add_job("j1", T, DOC)
    got_topic, body = ask(handler, topic, raw=payload)
    assert got_topic == f"{topic}/rejected"
    assert body["code"] == code
    assert "executionState" not in body


def test_unknown_thing_is_resource_not_found(handler, iot) -> None:
    topic, body = ask(handler, "$aws/things/ghost/jobs/get", {"clientToken": "g"})
    assert topic == "$aws/things/ghost/jobs/get/rejected"
    assert body["code"] == "ResourceNotFound"
    assert body["clientToken"] == "g"
    assert not [c for c in iot.calls if c[0] == "iot-jobs-data"]


def test_thing_check_without_describe_thing_answers_as_describe_thing(iot, clock) -> None:
    """The real service's ``require_thing`` (no DescribeThing answer built per request) and a
    service with only ``call`` (a DescribeThing per request) reject and accept alike."""
    iot.add_thing(T)
    fast = JobsMqttHandler(iot.svc, clock)  # LocalIotService: require_thing
    plain = JobsMqttHandler(iot, clock)  # the recording stand-in: call only
    assert not hasattr(iot, "require_thing")
    for topic in ("$aws/things/ghost/jobs/get", f"{BASE}/get", "$aws/things/ghost/jobs/j/update"):
        body = {"clientToken": "c", "status": "IN_PROGRESS"}
        assert ask(fast, topic, body) == ask(plain, topic, body)
    assert iot.count("DescribeThing") == 3  # the stand-in's way, once per request


@pytest.mark.parametrize(
    ("aws_code", "mqtt_code"),
    [
        ("ThrottlingException", "RequestThrottled"),
        ("InvalidRequestException", "InvalidRequest"),
        ("TerminalStateException", "TerminalStateReached"),
        ("ServiceUnavailableException", "InternalError"),
        ("SomethingElse", "InternalError"),
    ],
)
def test_service_error_codes(handler, iot, aws_code: str, mqtt_code: str) -> None:
    iot.add_job("j1", T, DOC)

    def failing(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if service == "iot":
            return {}
        raise AwsError(aws_code, "boom", 400, executionState={"status": "QUEUED"})

    iot.call = failing
    _, body = ask(handler, f"{BASE}/j1/get", {"clientToken": "e"})
    assert body["code"] == mqtt_code
    assert body["message"] == "boom"
    assert "executionState" not in body


def test_unexpected_exception_is_internal_error(handler, iot) -> None:
    def broken(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("bug")

    iot.call = broken
    topic, body = ask(handler, f"{BASE}/get", {"clientToken": "i"})
    assert topic.endswith("/rejected")
    assert body["code"] == "InternalError"
    assert body["clientToken"] == "i"


def test_empty_payload_counts_as_empty_object(handler) -> None:
    topic, body = ask(handler, f"{BASE}/get", raw=b"")
    assert topic == f"{BASE}/get/accepted"
    assert body["inProgressJobs"] == [] and body["queuedJobs"] == []


# -- pure helpers -------------------------------------------------------------------------------


_names = st.text(alphabet=st.sampled_from("abcXYZ019_-:"), min_size=1, max_size=20)


@settings(deadline=None)
@given(thing=_names, job=st.text(alphabet=st.sampled_from("abc019_-"), min_size=1, max_size=20))
def test_topic_parsing_round_trip(thing: str, job: str) -> None:
    base = f"$aws/things/{thing}/jobs"
    assert proto.parse_jobs_topic(f"{base}/get") == proto.JobsTopic(thing, proto.JobsOp.GET_PENDING)
    assert proto.parse_jobs_topic(f"{base}/start-next").op is proto.JobsOp.START_NEXT
    d = proto.parse_jobs_topic(f"{base}/{job}/get")
    assert (d.op, d.job_id, d.thing_name) == (proto.JobsOp.DESCRIBE, job, thing)
    u = proto.parse_jobs_topic(f"{base}/{job}/update")
    assert (u.op, u.job_id) == (proto.JobsOp.UPDATE, job)
    assert proto.is_jobs_topic(f"{base}/{job}/update")
    assert not proto.is_jobs_topic(f"{base}/{job}/update/accepted")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(deadline=None)
@given(doc=st.dictionaries(st.text(max_size=6), _json, max_size=5))
def test_job_document_becomes_the_object(doc: dict[str, Any]) -> None:
    assert proto.job_document_object(json.dumps(doc)) == doc
    ex = proto.mqtt_execution({"jobId": "j", "jobDocument": json.dumps(doc), "status": None})
    assert ex == {"jobId": "j", "jobDocument": doc}


@settings(deadline=None)
@given(payload=st.binary(max_size=64))
def test_arbitrary_payloads_never_crash(make_iot: Any, payload: bytes) -> None:
    iot = make_iot(FakeClock())
    iot.add_thing(T)
    iot.add_job("j1", T, DOC)
    h = JobsMqttHandler(iot, iot.clock)
    ok, body = h.respond(f"{BASE}/j1/update", payload)
    assert isinstance(body["timestamp"], int)
    if not ok:
        assert body["code"] in {"InvalidJson", "InvalidRequest"}
    json.dumps(body)


def test_update_passes_every_field_to_the_service(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    request = {
        "status": "IN_PROGRESS",
        "statusDetails": {"a": "b"},
        "expectedVersion": 1,
        "executionNumber": 1,
        "includeJobExecutionState": False,
        "includeJobDocument": False,
        "stepTimeoutInMinutes": 10,
        "clientToken": "all",
        "unknownField": "ignored",
    }
    topic, body = ask(handler, f"{BASE}/j1/update", request)
    assert topic.endswith("/accepted")
    service, operation, params = iot.calls[-1]
    assert (service, operation) == ("iot-jobs-data", "UpdateJobExecution")
    expected = {k: v for k, v in request.items() if k not in ("clientToken", "unknownField")}
    assert params == {"thingName": T, "jobId": "j1", **expected}
    assert body == {"timestamp": body["timestamp"], "clientToken": "all"}


def test_describe_passes_execution_number(handler, iot) -> None:
    iot.add_job("j1", T, DOC)
    ask(handler, f"{BASE}/j1/get", {"executionNumber": 1, "clientToken": "n"})
    assert iot.calls[-1][2] == {
        "thingName": T,
        "jobId": "j1",
        "executionNumber": 1,
        "includeJobDocument": True,
    }


@pytest.mark.parametrize(
    "details",
    [{"k": "x" * 1025}, {"k": "x" * 5000}, {f"k{i}": "v" for i in range(11)}, {"a b": "v"}],
    ids=["1025-chars", "5000-chars", "11-pairs", "bad-key"],
)
def test_status_details_past_aws_limits_are_rejected_over_mqtt(handler, iot, details) -> None:
    # API_iot-jobs-data_UpdateJobExecution.html: values of at most 1,024 characters;
    # API_CancelJobExecution.html: at most 10 pairs; DetailsKey's pattern.
    iot.add_job("j1", T, DOC)
    for topic, body in (
        (f"{BASE}/j1/update", {"status": "IN_PROGRESS", "statusDetails": details}),
        (f"{BASE}/start-next", {"statusDetails": details}),
    ):
        got, reply = ask(handler, topic, {**body, "clientToken": "big"})
        assert got == f"{topic}/rejected"
        assert (reply["code"], reply["clientToken"]) == ("InvalidRequest", "big")
        assert len(reply["message"]) < 400  # the value is not echoed back
    got, reply = ask(handler, f"{BASE}/j1/get", {})
    assert reply["execution"]["status"] == "QUEUED" and "statusDetails" not in reply["execution"]


def test_get_pending_returns_at_most_ten_over_mqtt(handler, iot, clock) -> None:
    # https://docs.aws.amazon.com/iot/latest/developerguide/job-limits.html
    for i in range(12):
        iot.add_job(f"j{i:02d}", T, DOC)
        clock.advance(1)
    topic, body = ask(handler, f"{BASE}/get", {"clientToken": "p"})
    assert topic == f"{BASE}/get/accepted" and body["inProgressJobs"] == []
    assert [j["jobId"] for j in body["queuedJobs"]] == [f"j{i:02d}" for i in range(10)]


def test_step_timeout_out_of_range_is_refused_over_mqtt_as_over_http() -> None:
    # stepTimeoutInMinutes: 1-10080, and -1 on UpdateJobExecution only
    # (API_iot-jobs-data_StartNextPendingJobExecution.html, ..._UpdateJobExecution.html).
    pair = AwsPair()
    arn = pair.svc.call("iot", "CreateThing", {"thingName": T})["thingArn"]
    pair.svc.call("iot", "CreateJob", {"jobId": "j1", "targets": [arn], "document": "{}"})
    handler = JobsMqttHandler(pair.svc, pair.clock)
    jobs = pair.client("iot-jobs-data", max_attempts=1)
    for topic, body, http in (
        (f"{BASE}/start-next", {"stepTimeoutInMinutes": 0}, "start_next_pending_job_execution"),
        (f"{BASE}/start-next", {"stepTimeoutInMinutes": -1}, "start_next_pending_job_execution"),
        (f"{BASE}/j1/update", {"status": "IN_PROGRESS", "stepTimeoutInMinutes": 10081},
         "update_job_execution"),
    ):  # fmt: skip
        topic_out, reply = ask(handler, topic, {**body, "clientToken": "s"})
        assert topic_out == f"{topic}/rejected"
        assert reply["code"] == "InvalidRequest" and reply["clientToken"] == "s"
        extra = {"jobId": "j1"} if http == "update_job_execution" else {}
        with pytest.raises(jobs.exceptions.InvalidRequestException) as info:
            getattr(jobs, http)(thingName=T, **extra, **body)
        assert info.value.response["Error"]["Message"] == reply["message"]
    topic_out, reply = ask(handler, f"{BASE}/start-next", {"stepTimeoutInMinutes": 10080})
    assert topic_out.endswith("/accepted") and reply["execution"]["status"] == "IN_PROGRESS"
    topic_out, _ = ask(handler, f"{BASE}/j1/update", {"status": "IN_PROGRESS",
                                                      "stepTimeoutInMinutes": -1})  # fmt: skip
    assert topic_out.endswith("/accepted")
