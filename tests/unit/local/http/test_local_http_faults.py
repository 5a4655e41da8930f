"""The fault injector a test aims: per operation, per service, seeded, capped, counted.

``local/faults.py``'s decisions alone (no transport): which rates apply to which request, the
``times`` cap, replay from a seed, and the JSON form ``local serve`` reads.
"""

from __future__ import annotations

import pytest

from ota_deploy.local.faults import (
    FaultConfig,
    FaultInjector,
    OperationFaults,
    injector_for,
    per_operation_from_json,
)


def test_lose_reply_aimed_at_one_operation_fires_exactly_times() -> None:
    injector = FaultInjector(
        FaultConfig(per_operation={"CreateJob": OperationFaults(lose_reply_rate=1.0, times=1)})
    )
    assert injector.decide("iot", "CreateThing").action is None
    assert injector.decide("iot", "CreateJob").action == "lose_reply"
    assert injector.decide("iot", "CreateJob").action is None  # the retry goes through
    assert injector.count("lose_reply") == 1
    assert injector.count("lose_reply", service="iot", operation="CreateJob") == 1
    assert injector.count("lose_reply", service="iot", operation="CreateThing") == 0


def test_a_qualified_key_aims_at_one_service_only() -> None:
    injector = FaultInjector(
        FaultConfig(
            per_operation={"iot-jobs-data:DescribeJobExecution": OperationFaults(drop_rate=1.0)}
        )
    )
    assert injector.decide("iot", "DescribeJobExecution").action is None
    assert injector.decide("iot-jobs-data", "DescribeJobExecution").action == "drop"
    bare = FaultInjector(
        FaultConfig(per_operation={"DescribeJobExecution": OperationFaults(drop_rate=1.0)})
    )
    assert bare.decide("iot", "DescribeJobExecution").action == "drop"
    assert bare.decide("iot-jobs-data", "DescribeJobExecution").action == "drop"


def test_global_rates_reach_the_control_plane_unless_services_say_otherwise() -> None:
    default = FaultInjector(FaultConfig(throttle_rate=1.0))
    assert default.decide("iot", "ListJobs").action == "throttle"
    assert default.decide("iot-jobs-data", "GetPendingJobExecutions").action == "throttle"
    assert default.decide("s3", "PutObject").action is None  # as before S3 could be aimed at
    assert default.decide("mqtt", "PUBLISH").action is None
    wide = FaultInjector(FaultConfig(error_rate=1.0, services=frozenset({"s3", "mqtt"})))
    assert wide.decide("s3", "GetObject").action in ("error500", "error503")
    assert wide.decide("mqtt", "CONNECT").action in ("error500", "error503")
    assert wide.decide("iot", "ListJobs").action is None


def test_a_per_operation_entry_overrides_the_global_rates_and_filter() -> None:
    cfg = FaultConfig(
        throttle_rate=1.0,
        operations=frozenset({"DescribeJob"}),
        per_operation={
            "s3:PutObject": OperationFaults(lose_reply_rate=1.0, times=2),
            "DescribeJob": OperationFaults(),  # aimed at, with nothing: runs clean
        },
    )
    injector = FaultInjector(cfg)
    assert [injector.decide("s3", "PutObject").action for _ in range(3)] == [
        "lose_reply",
        "lose_reply",
        None,
    ]
    assert injector.decide("iot", "DescribeJob").action is None
    assert injector.decide("iot", "ListJobs").action is None  # outside ``operations``
    assert injector.by_operation == {"s3:PutObject": {"lose_reply": 2}}


def test_latency_counts_toward_times_and_is_recorded() -> None:
    injector = FaultInjector(
        FaultConfig(per_operation={"mqtt:PUBLISH": OperationFaults(latency_ms=20, times=1)})
    )
    first, second = injector.decide("mqtt", "PUBLISH"), injector.decide("mqtt", "PUBLISH")
    assert (first.latency_s, first.action) == (0.02, None)
    assert second.latency_s == 0.0
    assert injector.counts == {"latency": 1}


def test_new_modes_replay_from_a_seed_and_keep_old_sequences() -> None:
    old = FaultConfig(throttle_rate=0.3, error_rate=0.2, drop_rate=0.1, seed=9)
    mixed = FaultConfig(
        throttle_rate=0.3,
        drop_rate=0.1,
        lose_reply_rate=0.2,
        seed=9,
        per_operation={"CreateJob": OperationFaults(lose_reply_rate=0.5, error_rate=0.5)},
    )
    for cfg in (old, mixed):
        a, b = FaultInjector(cfg), FaultInjector(cfg)
        ops = ["CreateJob", "ListJobs", "DescribeJob"] * 100
        assert [a.decide("iot", op) for op in ops] == [b.decide("iot", op) for op in ops]
    # A zero rate draws nothing, so the new mode left at 0 changes no existing sequence.
    import random

    rng = random.Random(9)
    expected: list[str | None] = []
    for _ in range(50):
        if rng.random() < 0.1:
            expected.append("drop")
        elif rng.random() < 0.3:
            expected.append("throttle")
        elif rng.random() < 0.2:
            expected.append("error500" if rng.random() < 0.5 else "error503")
        else:
            expected.append(None)
    injector = FaultInjector(old)
    assert [injector.decide("iot", "ListJobs").action for _ in range(50)] == expected


def test_lose_reply_share_follows_its_rate() -> None:
    injector = FaultInjector(FaultConfig(lose_reply_rate=0.25, seed=5))
    actions = [injector.decide("iot", "CreateThing").action for _ in range(2000)]
    assert 0.2 < actions.count("lose_reply") / len(actions) < 0.3
    assert set(actions) == {"lose_reply", None}


def test_bad_configs_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="lose_reply_rate"):
        FaultConfig(lose_reply_rate=2.0)
    with pytest.raises(ValueError, match="times"):
        OperationFaults(times=-1)
    with pytest.raises(ValueError, match="unknown fault service"):
        FaultConfig(services=frozenset({"dynamodb"}))
    with pytest.raises(ValueError, match="'ec2:RunInstances'"):
        FaultConfig(per_operation={"ec2:RunInstances": OperationFaults(drop_rate=1.0)})
    with pytest.raises(ValueError, match="OperationFaults"):
        FaultConfig(per_operation={"CreateJob": {"drop_rate": 1.0}})  # type: ignore[dict-item]


def test_per_operation_json_for_local_serve() -> None:
    parsed = per_operation_from_json(
        '{"CreateJob": {"lose_reply_rate": 1.0, "times": 1}, "s3:PutObject": {"drop_rate": 0.5}}'
    )
    assert parsed == {
        "CreateJob": OperationFaults(lose_reply_rate=1.0, times=1),
        "s3:PutObject": OperationFaults(drop_rate=0.5),
    }
    for text, message in (
        ("[1]", "JSON object"),
        ("{", "not JSON"),
        ('{"CreateJob": 1}', "CreateJob: expected an object"),
        ('{"CreateJob": {"lose_rate": 1}}', r"CreateJob: unknown field\(s\) \['lose_rate'\]"),
        ('{"CreateJob": {"drop_rate": "1"}}', "CreateJob.drop_rate: expected a number"),
        ('{"CreateJob": {"times": 1.5}}', "CreateJob.times: expected a number"),
        ('{"CreateJob": {"drop_rate": 3}}', "CreateJob: drop_rate must be between 0 and 1"),
        ('{"x:CreateJob": {"drop_rate": 1}}', "'x:CreateJob'"),
    ):
        with pytest.raises(ValueError, match=message):
            per_operation_from_json(text)


def test_one_injector_shared_across_transports() -> None:
    injector = FaultInjector(FaultConfig(services=frozenset({"s3"}), drop_rate=1.0))
    assert injector_for(injector) is injector
    assert injector_for(None).config == FaultConfig()
    assert not FaultConfig().active
    assert FaultConfig(per_operation={"X": OperationFaults(drop_rate=0.1)}).active
