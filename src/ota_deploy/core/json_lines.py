"""Reading back an append-only JSON Lines log after a crash: torn and foreign lines skipped.

Data flow: the lines of a log (a file opened by the caller) -> ``records`` -> the JSON object
of each line that holds one. A process that dies mid-append leaves a torn last line, and an
earlier process may have died mid-line before a later one appended after it; both are skipped,
never an error, so a log is readable whatever moment its writer died at. Used by the run
journal (``deploy.journal_replay``) and the fleet provisioning log (``aws.fleet_manifest``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each line's JSON object, in order; a line that is not one is skipped."""
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record
