"""Durations with units (iotApiSleepTime, defaultDelay, roundTimeout)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.core.units import parse_duration_ms, parse_duration_sec


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("50", 50.0),
        ("50ms", 50.0),
        ("2s", 2000.0),
        ("1.5s", 1500.0),
        ("0.1s", 100.0),
        (" 5 s ", 5000.0),
        ("1min", 60000.0),
        ("1m", 60000.0),
        ("0.5h", 1_800_000.0),
        ("2S", 2000.0),
        ("0", 0.0),
    ],
)
def test_units_ms_default(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == ms


def test_units_seconds_default_unit() -> None:
    assert parse_duration_sec("5") == 5.0
    assert parse_duration_sec("250ms") == 0.25
    assert parse_duration_sec("50", default_unit="ms") == 0.05


@pytest.mark.parametrize("text", ["", "fast", "-1", "1e3", "5 days", "1.2.3", "ms", "nan", "inf"])
def test_units_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_ms(text)


_UNITS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "": 1}


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(sorted(_UNITS)),
    st.sampled_from(["", " "]),
)
def test_units_property_matches_arithmetic(whole: int, places: int, unit: str, space: str) -> None:
    text = f"{whole / 10**places:.{places}f}" if places else str(whole)
    value = parse_duration_ms(f"{text}{space}{unit}")
    expected = float(text) * _UNITS[unit]
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert parse_duration_sec(f"{text}{space}{unit}", default_unit="ms") == pytest.approx(
        expected / 1000, rel=1e-12, abs=1e-12
    )


@given(st.text(max_size=12))
def test_units_property_never_crashes(text: str) -> None:
    try:
        value = parse_duration_ms(text)
    except ValueError:
        return
    assert value >= 0
