"""Decode JSON a client sent, with a nesting cap: bounded work, never a RecursionError.

Data flows like this::

    bytes or text --nests_deeper_than (linear, no recursion)--> json.loads --> value
                  (too deep, or not JSON)  --> JsonError (a ValueError) saying why

Every front end that decodes a client's JSON goes through ``decode_json``, and words the
failure its own way: the HTTP control plane and jobs data plane (``http/jsonbody``: a 400
SerializationException), the Jobs MQTT API (``reserved/jobs_protocol``: ``.../rejected`` with
InvalidJson) and MQTT-based file delivery (``reserved/streams_codec``: ``rejected`` with
InvalidJson).

Why: CPython's ``json`` decoder recurses once per array or object level, so 50,000 ``[`` raised
RecursionError out of the control plane (an HTTP 500) and out of the reserved-topic handlers
(an InternalError with a logged traceback per message). ``nests_deeper_than`` first measures
the nesting without recursing -- strings are cut out (one linear regular expression: no
backtracking, brackets inside strings don't count), the remaining brackets are counted, and
the walk stops at the first level past the cap -- and only then is the text handed to ``json``.

``MAX_JSON_DEPTH`` = 256: the deepest input of the ``iot`` and ``iot-jobs-data`` models
(ReplaceTopicRule) nests 10 levels and the reserved-topic requests are flat objects, so 256
refuses nothing AWS would read, and leaves CPython's decoder (recursion limit 1,000, shared
with the caller's frames) a wide margin.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 256

# A JSON string, unrolled ("normal* (special normal*)*") so matching is linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = b"[{"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JsonError(ValueError):
    """The input is not JSON, or nests deeper than the cap; the message says which."""


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
    """``json.loads(data)``, or ``JsonError`` when it is not JSON or nests deeper than
    ``max_depth``. Text is decoded as given; bytes as ``json.loads`` reads them (UTF-8, or
    UTF-16/32 by their byte pattern)."""
    if isinstance(data, str):
        openers = data.count("[") + data.count("{")
    else:
        openers = data.count(b"[") + data.count(b"{")
    # no more openers than the cap (every ordinary request): it cannot nest deeper; measure
    # only otherwise (a flat Jobs request decodes in ~3 us instead of ~6 us)
    if openers > max_depth:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        if nests_deeper_than(raw, max_depth):
            raise JsonError(f"it nests deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise JsonError(str(err)) from None
    except RecursionError:  # a backstop: the cap above keeps the decoder well inside the limit
        raise JsonError("it nests too deeply") from None
