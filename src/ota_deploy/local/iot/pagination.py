"""Offset-token pagination for every List* operation.

A token is the standard base64 of ``"<scope>:<offset>"``: it matches ListAttachedPolicies'
marker pattern ``[A-Za-z0-9+/]+={0,2}``, and a token from one listing is refused by another
(AWS answers an invalid token with InvalidRequestException). Slicing is O(page) once the
candidate list exists; listings build it from per-status indexes, not full scans.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

from ota_deploy.local.iot.errors import invalid

T = TypeVar("T")

DEFAULT_PAGE = 50


def encode(scope: str, offset: int) -> str:
    return base64.b64encode(f"{scope}:{offset}".encode()).decode()


def decode(scope: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.b64decode(token.encode(), validate=True).decode()
        got_scope, _, raw = text.rpartition(":")
        offset = int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        invalid("The pagination token is invalid.")
    if got_scope != scope or offset < 0:
        invalid("The pagination token is invalid.")
    return offset


def page(
    items: Sequence[T],
    scope: str,
    token: str | None,
    max_results: int | None,
    default: int = DEFAULT_PAGE,
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next page (None when this is the last)."""
    start = decode(scope, token)
    size = max_results if max_results else default
    chunk = list(items[start : start + size])
    end = start + len(chunk)
    return chunk, (encode(scope, end) if end < len(items) else None)
