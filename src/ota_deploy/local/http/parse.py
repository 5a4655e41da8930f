"""Turn an AWS REST-JSON HTTP request back into botocore-shaped parameters.

The inverse of botocore's ``RestJSONSerializer``: for each member of the operation's input
shape, its ``location`` says where botocore put it -- ``uri`` (a path label), ``querystring``
(``locationName`` key; lists repeat the key; a map takes the query keys no other member
claims), ``header`` / ``headers`` (prefix map), or the JSON body (member ``locationName`` or
the member name; a ``payload`` member is the whole body). Strings from the URI, query and
headers are converted per shape type (integer, boolean, timestamp -> aware datetime, ...);
JSON body values are converted recursively (timestamps may be epoch numbers or ISO strings,
blobs base64). A value that cannot be converted is kept as received so validation reports the
member with AWS's wording instead of the parser failing obscurely. JSON is decoded by
``jsonbody.decode_json`` (nesting capped: a body too deep is a 400, never a RecursionError).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from ota_deploy.local.http.jsonbody import RequestParseError, decode_json


def parse_timestamp(value: Any) -> Any:
    """Epoch seconds (number or numeric string), ISO 8601 or RFC 822 -> aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
        try:
            return parsedate_to_datetime(text).astimezone(UTC)
        except (TypeError, ValueError):
            return value
    return value


def _scalar_from_text(shape: Shape, text: str) -> Any:
    """A URI/query/header string converted to the member's type (left as is if it can't be)."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return text
    return text


_WHOLE = re.compile(r"-?[0-9]+")


def convert_json(shape: Shape, value: Any) -> Any:
    """A decoded JSON value converted per shape, recursively (unknown keys are dropped)."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure" and isinstance(value, dict):
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        wire_to_member = {
            m.serialization.get("name", name): (name, m) for name, m in shape.members.items()
        }
        for key, item in value.items():
            if key in wire_to_member:
                name, member = wire_to_member[key]
                if item is not None:
                    out[name] = convert_json(member, item)
        return out
    if kind == "list" and isinstance(value, list):
        member = shape.member  # type: ignore[attr-defined]
        return [convert_json(member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        val_shape = shape.value  # type: ignore[attr-defined]
        return {k: convert_json(val_shape, v) for k, v in value.items()}
    if kind == "timestamp":
        return parse_timestamp(value)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
    if kind in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in ("integer", "long") and isinstance(value, str) and _WHOLE.fullmatch(value):
        # A numeric JSON string for a number: AWS takes "expectedVersion":"2" from its
        # embedded C Jobs library (Jobs_UpdateMsg); see local/iot/jobs_data.py.
        return int(value)
    return value


def parse_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    literal_query: Iterable[str] = (),
) -> dict[str, Any]:
    """The request's parameters, keyed by input member names, converted per shape.

    ``literal_query`` names query keys the route's requestUri fixes (``/x?verb``): they are
    part of the address, never member values."""
    shape = operation.input_shape
    if shape is None:
        return {}
    assert isinstance(shape, StructureShape)
    pairs = list(query)
    lower_headers = {k.lower(): v for k, v in headers.items()}
    params: dict[str, Any] = {}
    claimed_query: set[str] = set(literal_query)
    query_map_member: tuple[str, Shape] | None = None
    body_members: dict[str, Shape] = {}
    payload_name = shape.serialization.get("payload")

    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc == "uri":
            if wire in labels:
                params[name] = _scalar_from_text(member, labels[wire])
        elif loc == "querystring":
            if member.type_name == "map":
                query_map_member = (name, member)
                continue
            claimed_query.add(wire)
            values = [v for k, v in pairs if k == wire]
            if not values:
                continue
            if member.type_name == "list":
                item_shape = member.member  # type: ignore[attr-defined]
                params[name] = [_scalar_from_text(item_shape, v) for v in values]
            else:
                params[name] = _scalar_from_text(member, values[0])
        elif loc == "header":
            raw = lower_headers.get(wire.lower())
            if raw is None:
                continue
            if member.type_name == "list":
                item_shape = member.member  # type: ignore[attr-defined]
                params[name] = [_scalar_from_text(item_shape, v.strip()) for v in raw.split(",")]
            elif member.type_name == "string" and member.serialization.get("jsonvalue"):
                params[name] = decode_json(base64.b64decode(raw))
            else:
                params[name] = _scalar_from_text(member, raw)
        elif loc == "headers":
            prefix = wire.lower()
            found = {k[len(prefix) :]: v for k, v in lower_headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        elif name == payload_name:
            if member.type_name in ("blob", "string"):
                if body:
                    params[name] = body if member.type_name == "blob" else body.decode()
            else:
                decoded = _decode_body(body)
                if decoded is not None:
                    params[name] = convert_json(member, decoded)
        else:
            body_members[name] = member

    if query_map_member is not None:
        name, member = query_map_member
        rest = {k: v for k, v in pairs if k not in claimed_query}
        if rest:
            params[name] = rest

    if body_members and not payload_name:
        decoded = _decode_body(body)
        if decoded is not None:
            if not isinstance(decoded, dict):
                raise RequestParseError("The request body must be a JSON object")
            for key, value in convert_json(shape, decoded).items():
                if key in body_members:
                    params[key] = value
    return params


def _decode_body(body: bytes) -> Any:
    if not body or not body.strip():
        return None
    return decode_json(body)
