"""Makes this folder's helper modules importable under --import-mode=importlib; the shared
local AWS IoT of the in-process deploy runs (``shared_stack``, one per session)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[Any]:
    from stackhelp_deploy import SharedStack

    with SharedStack() as stack:
        yield stack
