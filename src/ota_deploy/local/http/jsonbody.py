"""A request body's JSON, for the HTTP front end: ``jsonsafe.decode_json`` (nesting capped, so
bounded work and never a RecursionError), its failures worded as AWS's 400
``SerializationException``, the code this front end answers any body it can't read with.

Flow: body bytes --``jsonsafe.decode_json``--> value, or ``JsonError`` --> ``RequestParseError``.
"""

from __future__ import annotations

from typing import Any

from ota_deploy.local import jsonsafe
from ota_deploy.local.contracts import AwsError


class RequestParseError(AwsError):
    """The request is not well-formed (bad JSON, too deep, wrong body type)."""

    def __init__(self, message: str) -> None:
        super().__init__("SerializationException", message, 400)


def decode_json(data: bytes | str) -> Any:
    """``json.loads(data)``, or ``RequestParseError`` when it is not JSON or nests deeper
    than ``jsonsafe.MAX_JSON_DEPTH``."""
    try:
        return jsonsafe.decode_json(data)
    except jsonsafe.JsonError as err:
        raise RequestParseError(f"Could not parse the request body as JSON: {err}") from None
