"""Server-side input validation, as AWS performs it, from botocore's input shapes.

botocore's client-side ``ParamValidator`` checks required members, ``min`` and types, but not
``max``, ``pattern`` or ``enum``: AWS checks those on the server and answers
``InvalidRequestException`` (HTTP 400). We walk the whole input and collect every violation,
worded the way AWS's request validation words them, e.g.::

    1 validation error detected: Value 'a b' at 'jobId' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+

(see https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html). ParamValidator
runs afterwards as a backstop for anything the walk does not model (its report is used as is).

Numbers are held to three bounds at once: the model's ``min``/``max``; the width of the
model's type (``integer`` is 32-bit, ``long`` 64-bit: a JSON 1e30 is no ``MaxJobExecutionsPerMin``);
and the ranges AWS states only in prose (``core.aws_model.DOCUMENTED``), keyed by member path
-- the structure shape and member name, so CreateJob, UpdateJob and CreateJobTemplate share
them: ``maximumPerMinute`` at most 1,000, ``inProgressTimeoutInMinutes`` 1-10,080,
``stepTimeoutInMinutes`` 1-10,080 (UpdateJobExecution also takes -1, which cancels the step
timer). Every transport that reaches the front end (boto3, the AWS CLI, ``AwsPair``) meets
them, worded as AWS words a range violation and naming the member. Two doubles also have a
documented precision: ``thresholdPercentage`` of an abort criterion "up to two digits after
the decimal (for example, 10.9 and 10.99, but not 10.999)" (API_AbortCriteria.html,
API_AwsJobAbortCriteria.html) and ``incrementFactor`` "up to one digit after the decimal (for
example, 1.5, but not 1.55)" (API_ExponentialRolloutRate.html); a value with more digits is
named like a range violation ("Member must have at most 2 digits after the decimal point").
Model patterns are Java regular expressions matched against the whole value (translated by
``javaregex``; one that cannot be translated is skipped). ``check_request`` applies the same
checks to boto3 keyword arguments: the tests use it to prove a deployment plan
(``core.plan``) would be accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from botocore.model import Shape, StructureShape
from botocore.validate import ParamValidator

from ota_deploy.core.aws_model import documented, service_model
from ota_deploy.core.errors import excerpt
from ota_deploy.core.limits import decimal_places
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.http.javaregex import java_regex

MAX_REPORTED = 10
REPORT_CHARS = 2000  # botocore's backstop report, which quotes values
# Python types a model number accepts: integers for integer/long, any number for float/double.
_NUMBER_TYPES: dict[str, type | tuple[type, ...]] = {
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
}

# What a model number type can hold (Smithy: integer is 32-bit signed, long 64-bit signed).
_TYPE_RANGE: dict[str, tuple[int, int]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


@dataclass(frozen=True)
class DocumentedRange:
    """A range AWS states in prose; ``also`` lists values allowed outside it."""

    min: float | None = None
    max: float | None = None
    also: tuple[int, ...] = ()


@cache
def documented_ranges() -> dict[tuple[str, str], DocumentedRange]:
    """(structure shape, member) -> the documented range (each value's page is in DOCUMENTED)."""
    step = DocumentedRange(documented("step_timeout_min"), documented("step_timeout_max"))
    return {
        ("JobExecutionsRolloutConfig", "maximumPerMinute"): DocumentedRange(
            max=documented("max_per_minute_max")
        ),
        ("TimeoutConfig", "inProgressTimeoutInMinutes"): DocumentedRange(
            documented("in_progress_timeout_min"), documented("in_progress_timeout_max")
        ),
        ("StartNextPendingJobExecutionRequest", "stepTimeoutInMinutes"): step,
        ("UpdateJobExecutionRequest", "stepTimeoutInMinutes"): DocumentedRange(
            step.min, step.max, also=(-1,)
        ),
    }


@cache
def documented_decimals() -> dict[tuple[str, str], int]:
    """(structure shape, member) -> the digits after the decimal point AWS supports (the pages
    are in DOCUMENTED: abort_threshold_decimals_max, increment_factor_decimals_max)."""
    threshold = documented("abort_threshold_decimals_max")
    return {
        ("AbortCriteria", "thresholdPercentage"): threshold,
        ("AwsJobAbortCriteria", "thresholdPercentage"): threshold,
        ("ExponentialRolloutRate", "incrementFactor"): documented("increment_factor_decimals_max"),
    }


def number_bounds(
    kind: str, meta: dict[str, Any], owner: tuple[str, str] | None
) -> DocumentedRange:
    """The tightest of the model's bounds, the type's width and the documented range."""
    lows: list[float] = []
    highs: list[float] = []
    if "min" in meta:
        lows.append(meta["min"])
    if "max" in meta:
        highs.append(meta["max"])
    if kind in _TYPE_RANGE:
        lows.append(_TYPE_RANGE[kind][0])
        highs.append(_TYPE_RANGE[kind][1])
    doc = documented_ranges().get(owner) if owner is not None else None
    if doc is not None and doc.min is not None:
        lows.append(doc.min)
    if doc is not None and doc.max is not None:
        highs.append(doc.max)
    return DocumentedRange(
        min=max(lows) if lows else None,
        max=min(highs) if highs else None,
        also=doc.also if doc is not None else (),
    )


def _show(value: Any) -> str:
    """A value as the message quotes it: an excerpt (``core.errors.excerpt``), never a whole
    megabyte string or a 1e30-digit number."""
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return "'...'"
    return f"'{excerpt(str(value))}'"


class _Walker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: Any, path: str, constraint: str) -> None:
        self.errors.append(
            f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def walk(
        self, shape: Shape, value: Any, path: str, owner: tuple[str, str] | None = None
    ) -> None:
        """Check ``value`` against ``shape``; ``owner`` is (structure shape, member name) when
        ``value`` is a structure's member (documented ranges are keyed by it)."""
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            if not isinstance(value, dict):
                self.fail(value, path, "Member must be a structure")
                return
            assert isinstance(shape, StructureShape)
            for req in shape.required_members:
                if value.get(req) is None:
                    self.fail(None, _join(path, req), "Member must not be null")
            for name, item in value.items():
                member = shape.members.get(name)
                if member is not None and item is not None:
                    self.walk(member, item, _join(path, name), (shape.name, name))
        elif kind == "list":
            if not isinstance(value, list | tuple):
                self.fail(value, path, "Member must be a list")
                return
            self._length(value, len(value), meta, path)
            member = shape.member  # type: ignore[attr-defined]
            for i, item in enumerate(value, start=1):
                self.walk(member, item, f"{path}.{i}.member")
        elif kind == "map":
            if not isinstance(value, dict):
                self.fail(value, path, "Member must be a map")
                return
            self._length(value, len(value), meta, path)
            key_shape, val_shape = shape.key, shape.value  # type: ignore[attr-defined]
            for k, v in value.items():
                self.walk(key_shape, k, f"{path}.key")
                self.walk(val_shape, v, f"{path}.{k}")
        elif kind == "string":
            if not isinstance(value, str):
                self.fail(value, path, "Member must be a string")
                return
            self._length(value, len(value), meta, path)
            enum = shape.enum
            if enum and value not in enum:
                self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
            pattern = meta.get("pattern")
            if pattern:
                rx = java_regex(pattern)
                if rx is not None and rx.fullmatch(value) is None:
                    self.fail(
                        value, path, f"Member must satisfy regular expression pattern: {pattern}"
                    )
        elif kind in _NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES[kind]):
                wanted = "an integer" if kind in _TYPE_RANGE else "a number"
                self.fail(value, path, f"Member must be {wanted}")
                return
            number = cast(float, value)  # an int or a float, checked just above
            bounds = number_bounds(kind, meta, owner)
            if number in bounds.also:
                return
            extra = f" (or be {' or '.join(map(str, bounds.also))})" if bounds.also else ""
            if bounds.min is not None and number < bounds.min:
                self.fail(
                    value,
                    path,
                    f"Member must have value greater than or equal to {bounds.min}" + extra,
                )
            if bounds.max is not None and number > bounds.max:
                self.fail(
                    value,
                    path,
                    f"Member must have value less than or equal to {bounds.max}" + extra,
                )
            places = documented_decimals().get(owner) if owner is not None else None
            if places is not None and isinstance(number, float) and _decimals(number) > places:
                digits = "1 digit" if places == 1 else f"{places} digits"
                self.fail(value, path, f"Member must have at most {digits} after the decimal point")
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.fail(value, path, "Member must be a boolean")
        elif kind == "timestamp":
            if not isinstance(value, datetime):
                self.fail(value, path, "Member must be a timestamp")
        elif kind == "blob":
            if not isinstance(value, bytes | bytearray | str):
                self.fail(value, path, "Member must be a blob")
            else:
                self._length(value, len(value), meta, path)

    def _length(self, value: Any, length: int, meta: dict[str, Any], path: str) -> None:
        if "min" in meta and length < meta["min"]:
            self.fail(
                value, path, f"Member must have length greater than or equal to {meta['min']}"
            )
        if "max" in meta and length > meta["max"]:
            self.fail(value, path, f"Member must have length less than or equal to {meta['max']}")


def _decimals(number: float) -> int:
    """Digits after the decimal point of ``number`` as the client wrote it (``repr`` is the
    shortest text that reads back as the same float: 10.99 -> 2, 1e-05 -> 5, nan -> 0)."""
    try:
        return decimal_places(repr(number))
    except ValueError:
        return 0


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validation_errors(shape: Shape | None, params: dict[str, Any]) -> list[str]:
    """Every constraint the parameters break (empty when they are valid)."""
    if shape is None:
        return []
    walker = _Walker()
    walker.walk(shape, params, "")
    if walker.errors:
        return walker.errors
    report = ParamValidator().validate(params, shape)
    if report.has_errors():  # its report quotes the values: cut to a readable length
        return [excerpt(report.generate_report(), REPORT_CHARS)]
    return []


def validate_input(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise ``InvalidRequestException`` (400) naming the members at fault, as AWS does."""
    errors = validation_errors(shape, params)
    if not errors:
        return
    shown = errors[:MAX_REPORTED]
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(shown)
    raise AwsError("InvalidRequestException", message, 400)


def check_request(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every constraint of ``service``'s ``operation`` that ``params`` (botocore member names,
    as boto3 takes them) break; empty when AWS would accept them."""
    return validation_errors(service_model(service).operation_model(operation).input_shape, params)
