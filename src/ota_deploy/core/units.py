"""Durations written by people: ``50`` (in the key's default unit), ``50ms``, ``2s``, ``1.5m``.

The manual gives no unit for ``iotApiSleepTime`` (a pause between IoT API calls); this tool
reads a bare number as milliseconds there and as seconds for ``defaultDelay`` and
``roundTimeout``. An explicit unit always wins. Pure parsing: ``ValueError`` with a short
reason for anything else, which the config loader turns into an ``InputError`` naming the key.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from ota_deploy.core.errors import excerpt

Unit = Literal["ms", "s", "min", "h"]

_MS = Decimal(1)
_SEC = Decimal(1000)
_MIN = Decimal(60_000)
_HOUR = Decimal(3_600_000)
_FACTORS_MS: dict[str, Decimal] = {
    "ms": _MS,
    "msec": _MS,
    "s": _SEC,
    "sec": _SEC,
    "secs": _SEC,
    "second": _SEC,
    "seconds": _SEC,
    "m": _MIN,
    "min": _MIN,
    "mins": _MIN,
    "minute": _MIN,
    "minutes": _MIN,
    "h": _HOUR,
    "hr": _HOUR,
    "hour": _HOUR,
    "hours": _HOUR,
}
_MAX_MS = Decimal(10) ** 15  # ~31,000 years: anything above is a typo
_DURATION_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*")


def _parse_ms(text: str, default_unit: Unit) -> Decimal:
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{excerpt(text)!r} is not a duration (a number, optionally with a unit: ms, s, min, h)"
        )
    number, unit = match.group(1), match.group(2).lower() or default_unit
    factor = _FACTORS_MS.get(unit)
    if factor is None:
        shown = excerpt(text)
        raise ValueError(f"{shown!r} has an unknown unit {excerpt(unit)!r} (use ms, s, min or h)")
    value = Decimal(number) * factor
    if value > _MAX_MS:
        raise ValueError(f"{excerpt(text)!r} is too large")
    return value


def parse_duration_sec(text: str, *, default_unit: Unit = "s") -> float:
    """Seconds in ``text``; a bare number is in ``default_unit``. Signs/NaN/inf are rejected."""
    return float(_parse_ms(text, default_unit) / _SEC)


def parse_duration_ms(text: str, *, default_unit: Unit = "ms") -> float:
    """Milliseconds in ``text``; a bare number is in ``default_unit`` (milliseconds)."""
    return float(_parse_ms(text, default_unit))
