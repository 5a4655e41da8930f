"""Check a request against botocore's service model the way AWS would, before sending it.

``botocore.validate`` checks required members, types and minimums but not maximums, patterns
or enums (DESIGN.md); ``check_request`` adds those by walking the operation's input shape.
AWS's model patterns are Java regexes applied to the whole value; the one Java-only construct
IoT uses in the shapes this tool sends, ``[^\\p{C}]+`` (no control/format/unassigned
characters), is checked by Unicode category. Used by the tests and by ``--dry-run`` callers to
prove a plan would be accepted; pure apart from reading botocore's bundled model files.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    Shape,
    StructureShape,
)
from botocore.validate import validate_parameters

_NO_CONTROL = r"[^\p{C}]+"


@functools.lru_cache(maxsize=8)
def operation_model(service: str, operation: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation)


def _pattern_ok(pattern: str, value: str) -> bool:
    if pattern == _NO_CONTROL:
        return bool(value) and not any(unicodedata.category(c).startswith("C") for c in value)
    try:
        compiled = re.compile(pattern)
    except re.error:
        return True  # a Java-only construct we cannot evaluate: botocore's checks still apply
    return compiled.fullmatch(value) is not None


def _walk(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _walk(member, value[name], f"{path}.{name}", errors)
        return
    if isinstance(shape, ListShape) and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, more than the maximum {meta['max']}")
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]", errors)
        return
    if isinstance(shape, MapShape) and isinstance(value, dict):
        for k, item in value.items():
            _walk(shape.value, item, f"{path}.{k}", errors)
        return
    if shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: length {len(value)} exceeds the maximum {meta['max']}")
        if "pattern" in meta and not _pattern_ok(meta["pattern"], value):
            errors.append(f"{path}: {value!r} does not match the pattern {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
    elif shape.type_name in ("integer", "long", "double", "float") and isinstance(
        value, (int, float)
    ):
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value} exceeds the maximum {meta['max']}")
        if "min" in meta and value < meta["min"]:
            errors.append(f"{path}: {value} is below the minimum {meta['min']}")


def check_request(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every reason AWS's model gives to reject ``params``; empty when they would pass."""
    shape = operation_model(service, operation).input_shape
    errors: list[str] = []
    try:
        validate_parameters(params, shape)
    except ParamValidationError as err:
        errors.append(str(err.kwargs.get("report", err)))
    _walk(shape, params, operation, errors)
    return errors
