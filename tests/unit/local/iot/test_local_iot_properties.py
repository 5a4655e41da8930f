"""Property tests: pagination tokens, and engine invariants under random device/operator
activity (the indexes always equal a from-scratch recomputation)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ota_deploy.core.status import PENDING_EXECUTION, TERMINAL_EXECUTION, ExecutionStatus
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot import pagination


@given(st.text(max_size=40), st.integers(min_value=0, max_value=10**9))
def test_token_round_trip(scope: str, offset: int) -> None:
    assert pagination.decode(scope, pagination.encode(scope, offset)) == offset


@given(st.text(max_size=60))
def test_garbage_tokens_are_invalid_requests(token: str) -> None:
    try:
        pagination.decode("ListJobs", token)
    except AwsError as exc:
        assert exc.code == "InvalidRequestException"


@given(
    st.lists(st.integers(min_value=0, max_value=100), max_size=300),
    st.integers(min_value=1, max_value=50),
)
def test_pages_cover_every_item_once(items: list[int], size: int) -> None:
    seen, token = [], None
    while True:
        chunk, token = pagination.page(items, "s", token, size)
        seen += chunk
        if token is None:
            break
    assert seen == items


THINGS = [f"t{i}" for i in range(6)]
ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.sampled_from(THINGS)),
        st.tuples(
            st.just("update"),
            st.sampled_from(THINGS),
            st.sampled_from(["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"]),
        ),
        st.tuples(st.just("tick"), st.sampled_from([1, 30, 61, 200])),
        st.tuples(st.just("cancel_exec"), st.sampled_from(THINGS), st.booleans()),
        st.tuples(st.just("cancel_job"), st.booleans()),
        st.tuples(st.just("leave"), st.sampled_from(THINGS)),
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS, continuous=st.booleans())
def test_engine_indexes_match_recomputation(harness_factory, actions, continuous) -> None:
    h = harness_factory()
    h.things(*THINGS, group="g")
    h.job(
        "j",
        [],
        targets=[h.group_arn("g")],
        targetSelection="CONTINUOUS" if continuous else "SNAPSHOT",
        document=json.dumps({"x": 1}),
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
        timeoutConfig={"inProgressTimeoutInMinutes": 1},
        jobExecutionsRetryConfig={"criteriaList": [{"failureType": "ALL", "numberOfRetries": 1}]},
        abortConfig={
            "criteriaList": [
                {
                    "failureType": "REJECTED",
                    "action": "CANCEL",
                    "thresholdPercentage": 60,
                    "minNumberOfExecutedThings": 3,
                }
            ]
        },
    )
    for action in actions:
        try:
            if action[0] == "start":
                h.data("StartNextPendingJobExecution", thingName=action[1])
            elif action[0] == "update":
                h.data("UpdateJobExecution", jobId="j", thingName=action[1], status=action[2])
            elif action[0] == "tick":
                h.advance(action[1])
            elif action[0] == "cancel_exec":
                h.iot("CancelJobExecution", jobId="j", thingName=action[1], force=action[2])
            elif action[0] == "cancel_job":
                h.iot("CancelJob", jobId="j", force=action[1])
            elif action[0] == "leave":
                h.iot("RemoveThingFromThingGroup", thingGroupName="g", thingName=action[1])
        except AwsError as exc:
            assert exc.code in {
                "InvalidStateTransitionException",
                "ResourceNotFoundException",
                "InvalidRequestException",
            }
        _check_invariants(h)


def _check_invariants(h) -> None:
    eng = h.svc.engine
    job = eng.jobs["j"]
    expected: dict[ExecutionStatus, set[str]] = {}
    for thing, runs in job.executions.items():
        expected.setdefault(runs[-1].status, set()).add(thing)
        assert all(r.status in TERMINAL_EXECUTION for r in runs[:-1])  # only the current is live
    got = {s: set(eng.index.things_with("j", s)) for s in ExecutionStatus}
    assert {s: things for s, things in got.items() if things} == expected
    for thing in THINGS:
        cur = job.current(thing)
        visible = cur is not None and cur.notified and cur.status in PENDING_EXECUTION
        assert any(e is cur for e in eng.index.pending_of(thing)) == visible
    counts = h.counts("j")
    assert sum(counts.values()) == len(job.executions)
    if job.target_selection == "SNAPSHOT" and job.status.value == "IN_PROGRESS":
        assert counts.get("Queued", 0) + counts.get("InProgress", 0) > 0 or job.unreleased
    # notify-next always announced the current head
    for thing in THINGS:
        head = eng.index.next_pending(thing)
        msgs = h.messages(f"$aws/things/{thing}/jobs/notify-next")
        if head is None:
            assert not msgs or "execution" not in msgs[-1]
        else:
            assert msgs[-1]["execution"]["executionNumber"] == head.execution_number


def test_empty_group_snapshot_job_completes_immediately(h) -> None:
    h.iot("CreateThingGroup", thingGroupName="empty")
    h.job("j", [], targets=[h.group_arn("empty")])
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "COMPLETED"
