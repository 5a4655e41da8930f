"""Typed reads of one dev.ini's values, each failure an ``InputError`` naming file/section/key.

``Values`` wraps a ``RawIni`` and knows the ini's path, so every parse (boolean as configparser
reads it, integer in a range, decimal with at most N places, duration with a unit, path
relative to the dev.ini's folder) reports the manual's key spelling and the line it is on.
"""

from __future__ import annotations

import configparser
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ota_deploy.config import keys as K
from ota_deploy.config.ini import RawIni
from ota_deploy.core import limits
from ota_deploy.core.errors import InputError, excerpt
from ota_deploy.core.units import Unit, parse_duration_sec

_BOOLEANS = configparser.ConfigParser.BOOLEAN_STATES  # 1/yes/true/on, 0/no/false/off
_NONE_WORDS = ("", "none", "null")
_INLINE_COMMENT = re.compile(r"\s[#;]")


class Values:
    """Reads typed values from one parsed dev.ini."""

    def __init__(self, raw: RawIni) -> None:
        self.raw = raw
        self.file = str(raw.path)
        self.folder = raw.path.parent

    def error(self, section: str, key: str | None, message: str) -> InputError:
        raw = self.raw.get(section, key) if key else None
        if raw is not None and _INLINE_COMMENT.search(raw):
            message += " (a comment must be on its own line: configparser keeps '# ...' in values)"
        return InputError(
            message,
            file=self.file,
            section=section,
            key=K.canonical(section, key.lower()) if key else None,
            line=self.raw.line(section, key),
        )

    def text(self, section: str, key: str, *, required: bool = True) -> str | None:
        """The stripped text of ``key``; ``None`` for a missing (or empty/None) optional key."""
        value = self.raw.get(section, key)
        if value is None or value.lower() in _NONE_WORDS:
            if required:
                what = "is missing" if value is None else "is empty"
                raise self.error(section, key, f"required key {what}")
            return None
        return value

    def req(self, section: str, key: str) -> str:
        value = self.text(section, key)
        assert value is not None
        return value

    def flag(self, section: str, key: str, default: bool = False) -> bool:
        value = self.raw.get(section, key)
        if value is None or value == "":
            return default
        try:
            return _BOOLEANS[value.lower()]
        except KeyError:
            raise self.error(
                section,
                key,
                f"{excerpt(value)!r} is not a boolean (use True/False, yes/no, on/off or 1/0)",
            ) from None

    def integer(
        self,
        section: str,
        key: str,
        *,
        low: int | None = None,
        high: int | None = None,
        default: int | None = None,
    ) -> int:
        value = self.text(section, key, required=default is None)
        if value is None:
            assert default is not None
            return default
        try:
            number = int(value, 10)
        except ValueError:
            raise self.error(section, key, f"{excerpt(value)!r} is not a whole number") from None
        reason = limits.check_int_range(number, low, high)
        if reason:
            raise self.error(section, key, reason)
        return number

    def decimal(
        self,
        section: str,
        key: str,
        *,
        low: Decimal | None = None,
        high: Decimal | None = None,
        low_exclusive: bool = False,
        places: int | None = None,
    ) -> float:
        """A number with at most ``places`` decimals within [low, high] (AWS's rules)."""
        value = self.req(section, key)
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(section, key, f"{excerpt(value)!r} is not a number") from None
        if not number.is_finite():
            raise self.error(section, key, f"{excerpt(value)!r} is not a finite number")
        too_low = low is not None and (number <= low if low_exclusive else number < low)
        if too_low or (high is not None and number > high):
            lo = "" if low is None else (f"above {low}" if low_exclusive else f"at least {low}")
            hi = "" if high is None else f"at most {high}"
            rule = " and ".join(x for x in (lo, hi) if x)
            raise self.error(section, key, f"{excerpt(value)} is out of range: AWS requires {rule}")
        if places is not None and limits.decimal_places(value) > places:
            digits = "one digit" if places == 1 else f"{places} digits"
            raise self.error(
                section,
                key,
                f"{excerpt(value)} has too many decimals: AWS supports {digits} after the point",
            )
        return float(number)

    def duration_sec(
        self, section: str, key: str, *, default_unit: Unit, required: bool = True
    ) -> float | None:
        value = self.text(section, key, required=required)
        if value is None:
            return None
        try:
            return parse_duration_sec(value, default_unit=default_unit)
        except ValueError as err:
            raise self.error(section, key, str(err)) from None

    def path(self, section: str, key: str, *, required: bool = True) -> Path | None:
        """A path relative to the dev.ini's folder that must name an existing file."""
        value = self.text(section, key, required=required)
        if value is None:
            return None
        resolved = (self.folder / Path(value).expanduser()).resolve()
        if not resolved.exists():
            raise self.error(section, key, f"file not found: {resolved}")
        if not resolved.is_file():
            raise self.error(section, key, f"not a file: {resolved}")
        return resolved

    def choice(
        self,
        section: str,
        key: str,
        choices: tuple[str, ...],
        *,
        default: str | None = None,
        upper: bool = False,
    ) -> str:
        value = self.text(section, key, required=default is None)
        if value is None:
            assert default is not None
            return default
        candidate = value.upper() if upper else value
        if candidate not in choices:
            raise self.error(section, key, f"{excerpt(value)!r} is not one of {', '.join(choices)}")
        return candidate

    def checked(self, section: str, key: str, reason: str | None) -> None:
        if reason:
            raise self.error(section, key, reason)
