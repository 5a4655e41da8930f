"""Property: a numeric key is accepted exactly when AWS's limit allows it, and what is accepted
reaches CreateJob unchanged and passes botocore's model."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ota_deploy.config.loader import load_settings
from ota_deploy.config.sample import copy_sample, edit_ini
from ota_deploy.core.errors import InputError
from ota_deploy.core.firmware import Firmware
from ota_deploy.core.plan import build_round_plan
from ota_deploy.local.http.validate import check_request

ON = {
    ("DEFAULT", "useJobExecutionsRolloutConfig"): "True",
    ("DEFAULT", "useAbortConfig"): "True",
    ("DEFAULT", "useTimeoutConfig"): "True",
    ("DEFAULT", "usePresignedUrlConfig"): "True",
}
# (section, key, lowest, highest, decimals allowed, path of the value in CreateJob)
RULES = [
    (
        "JOB_EXECUTE_ROLLOUT_CONFIG",
        "maximumPerMinute",
        1,
        1000,
        0,
        ("jobExecutionsRolloutConfig", "maximumPerMinute"),
    ),
    (
        "EXP_RATE_CONFIG",
        "baseRatePerMinute",
        1,
        1000,
        0,
        ("jobExecutionsRolloutConfig", "exponentialRate", "baseRatePerMinute"),
    ),
    (
        "EXP_RATE_CONFIG",
        "incrementFactor",
        Decimal("1.1"),
        5,
        1,
        ("jobExecutionsRolloutConfig", "exponentialRate", "incrementFactor"),
    ),
    (
        "TIMEOUT_CONFIG",
        "inProgressTimeoutInMinutes",
        1,
        10080,
        0,
        ("timeoutConfig", "inProgressTimeoutInMinutes"),
    ),
    ("PRESIGNED_URL_CONFIG", "expiresInSec", 60, 3600, 0, ("presignedUrlConfig", "expiresInSec")),
    (
        "ABORT_CONFIG_TYPE_ALL",
        "thresholdPercentage",
        Decimal("0.01"),
        100,
        2,
        ("abortConfig", "criteriaList", 0, "thresholdPercentage"),
    ),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample(tmp_path_factory.mktemp("prop"))


@st.composite
def rule_and_value(draw: st.DrawFn) -> tuple[tuple, Decimal]:  # type: ignore[type-arg]
    rule = draw(st.sampled_from(RULES))
    low, high = Decimal(rule[2]), Decimal(rule[3])
    edges = [low, high, low - Decimal("0.1"), high + Decimal("0.1"), low - 1, high + 1]
    value = draw(
        st.one_of(
            st.sampled_from(edges),
            st.integers(min_value=int(low) - 3, max_value=int(high) + 3).map(Decimal),
            st.decimals(min_value=low - 1, max_value=high + 1, places=1),
            st.decimals(min_value=low - 1, max_value=high + 1, places=2),
            st.decimals(min_value=-20, max_value=11000, places=3),
        )
    )
    return rule, value


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=rule_and_value())
def test_numeric_limits_property(base: Path, case: tuple) -> None:  # type: ignore[type-arg]
    rule, value = case
    section, key, low, high, places, where = rule
    text = format(value.normalize(), "f")
    ini = base.parent / f"{key}.ini"
    ini.write_text(edit_ini(base.read_text(), {**ON, (section, key): text}))
    exponent = Decimal(text).normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    ok = Decimal(low) <= Decimal(text) <= Decimal(high) and decimals <= places
    try:
        s = load_settings(ini).settings
    except InputError as err:
        event("rejected")
        assert not ok, f"{text} rejected: {err}"
        assert key in str(err)
        return
    event("accepted")
    assert ok, f"{key} = {text} was accepted"
    fw = Firmware.load(s.bin_path, chunk_size=s.file_chunk_size)
    plan = build_round_plan(
        s,
        fw,
        round_number=1,
        targets=["arn:aws:iot:us-east-1:123456789012:thing/t"],
        s3_key="k/fw.bin",
    )
    assert check_request("iot", "CreateJob", plan.create_job) == []
    sent = plan.create_job
    for step in where:
        sent = sent[step]
    assert Decimal(str(sent)) == Decimal(text)
