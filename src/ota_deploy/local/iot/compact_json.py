"""Compact JSON bytes for the messages the local AWS IoT sends over MQTT, made cheaply.

Data flow: a reply or notification body (a dict built by the service, never cyclic) ->
:func:`compact_bytes` -> the bytes ``json.dumps(body, separators=(",", ":")).encode()`` gives.

``JSONEncoder.encode`` builds a new C encoder (and a circular-reference memo) for every call;
a device's Jobs request pays that per reply and per notify message. The one C encoder here is
built once, with the options ``JSONEncoder(separators=(",", ":"))`` passes to it, and without
the memo (the bodies are trees this package builds). Where the C accelerator is missing, the
plain encoder is used. A property test holds both to ``json.dumps``.
"""

from __future__ import annotations

import json
import json.encoder
from typing import Any

_PLAIN = json.JSONEncoder(separators=(",", ":"))
_c_make = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    None
    if _c_make is None
    else _c_make(
        None,  # no circular-reference memo: the bodies are trees
        _PLAIN.default,
        json.encoder.encode_basestring_ascii,  # ensure_ascii, as json.dumps
        None,  # no indent
        _PLAIN.key_separator,
        _PLAIN.item_separator,
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
)


def compact_bytes(body: Any) -> bytes:
    """``json.dumps(body, separators=(",", ":")).encode()`` (module docstring)."""
    if _C_ENCODE is None or type(body) is not dict:
        return _PLAIN.encode(body).encode()
    return "".join(_C_ENCODE(body, 0)).encode()
