"""Decode a request's JSON with a nesting cap: bounded work, never a RecursionError.

CPython's ``json`` decoder recurses once per array or object level, so a body of 50,000 ``[``
raised RecursionError out of the control plane (an HTTP 500). ``decode_json`` first measures
the body's nesting without recursing -- strings are cut out (one linear regular expression:
no backtracking, brackets inside strings don't count), the remaining brackets are counted, and
the walk stops at the first level past the cap -- and only then hands the text to ``json``.
A body nested deeper than ``MAX_JSON_DEPTH`` is a ``SerializationException`` (400), the code
this front end answers any body it can't read with.

``MAX_JSON_DEPTH`` = 256: the deepest input of the ``iot`` and ``iot-jobs-data`` models
(ReplaceTopicRule) nests 10 levels, so 256 refuses nothing AWS would read, and leaves CPython's
decoder (recursion limit 1,000, shared with the caller's frames) a wide margin.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ota_deploy.local.contracts import AwsError

MAX_JSON_DEPTH = 256

# A JSON string, unrolled ("normal* (special normal*)*") so matching is linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = b"[{"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class RequestParseError(AwsError):
    """The request is not well-formed (bad JSON, too deep, wrong body type)."""

    def __init__(self, message: str) -> None:
        super().__init__("SerializationException", message, 400)


def nests_deeper_than(data: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest more than ``limit`` levels (brackets inside
    strings don't count); linear in ``len(data)``, stops at the first level past ``limit``."""
    skeleton = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(skeleton) <= limit:
        return False  # too few brackets to nest deeper
    depth = 0
    for byte in skeleton:
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def decode_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(data)``, or ``RequestParseError`` when it is not JSON or nests deeper
    than ``max_depth``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if nests_deeper_than(raw, max_depth):
        raise RequestParseError(
            f"Could not parse the request body as JSON: it nests deeper than {max_depth} levels"
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise RequestParseError(f"Could not parse the request body as JSON: {err}") from err
    except RecursionError:  # a backstop: the cap above keeps the decoder well inside the limit
        raise RequestParseError(
            "Could not parse the request body as JSON: it nests too deeply"
        ) from None
