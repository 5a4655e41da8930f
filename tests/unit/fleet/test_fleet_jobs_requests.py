"""The Jobs requests written from a template (``protocol.start_next_request``,
``protocol.update_request``) are byte for byte what the general encoder writes.

The general path is ``json.dumps(body, separators=(",", ":"))`` of the body the agent built
before the template (members in that order); hypothesis draws any text (escapes, non-ASCII,
lone surrogates), status enums and plain strings, versions, and members of other types (the
template declines those and the general encoder answers).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.core.status import ExecutionStatus
from ota_deploy.fleet import protocol as proto

TEXT = st.text(max_size=30)
DETAILS = st.dictionaries(TEXT, TEXT, max_size=4)
ODD_DETAILS = st.dictionaries(TEXT | st.integers(), TEXT | st.integers() | st.none(), max_size=3)
STATUSES = st.sampled_from(list(ExecutionStatus)) | TEXT


def general(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def general_update(status: Any, details: Any, version: Any, token: Any) -> bytes:
    body: dict[str, Any] = {
        "status": status,
        "includeJobExecutionState": True,
        "clientToken": token,
    }
    if details:
        body["statusDetails"] = details
    if version is not None:
        body["expectedVersion"] = version
    return general(body)


@given(TEXT | st.integers())
def test_start_next_request_is_the_general_encoding(token: Any) -> None:
    assert proto.start_next_request(token) == general({"clientToken": token})


@given(STATUSES, DETAILS | ODD_DETAILS, st.none() | st.integers() | st.booleans(), TEXT)
def test_update_request_is_the_general_encoding(
    status: Any, details: Any, version: Any, token: Any
) -> None:
    got = proto.update_request(status, details, version, token)
    assert got == general_update(status, details, version, token)
    assert json.loads(got)["clientToken"] == token


def test_the_agents_own_progress_update() -> None:
    details = {"state": "downloading", "progress": "25%"}
    got = proto.update_request(ExecutionStatus.IN_PROGRESS, details, 3, "12")
    assert got == (
        b'{"status":"IN_PROGRESS","includeJobExecutionState":true,"clientToken":"12",'
        b'"statusDetails":{"state":"downloading","progress":"25%"},"expectedVersion":3}'
    )
