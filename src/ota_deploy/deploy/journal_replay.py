"""Reading a run journal back: ``journal.jsonl`` line by line into its runs' sections.

Data flow: the log (``deploy.journal`` appends it) -> ``replay`` -> one ``JournalData`` per
header line, each event applied to its run's section (``journal_records``: intents opened,
``created`` / ``kept`` set, ``removed`` / ``absent`` settled) -> ``Journal.load``, which
``ota-deploy cleanup`` uses. ``format1_data`` reads a journal written before the log existed
(``journal.json`` alone, one JSON document).

Why its own module: the writer appends and never reads; reading is tolerant of crashes (a
line torn by a crash, or an earlier process's half line, is skipped) and is what ``cleanup``
relies on, so it is kept apart from the code that writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ota_deploy.core.json_lines import records
from ota_deploy.deploy.journal_records import (
    FORMAT,
    JournalData,
    Kind,
    Resource,
    apply_created,
    apply_intent,
    apply_kept,
    new_marker,
    settle_all,
)


def replay(path: Path) -> list[JournalData]:
    """The sections of a log, rebuilt line by line; an unreadable line (torn by a crash) is
    skipped."""
    sections: list[JournalData] = []
    by_run: dict[str, JournalData] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for record in records(fh):
            if "journal" in record:
                data = JournalData(
                    version=int(record.get("journal", FORMAT)),
                    started=float(record.get("started", 0.0)),
                    mode=str(record.get("mode", "aws")),
                    region=str(record.get("region", "us-east-1")),
                    profile=record.get("profile"),
                    endpoints=dict(record.get("endpoints") or {}),
                    config=record.get("config"),
                    run=str(record.get("run", "")),
                )
                sections.append(data)
                by_run[data.run] = data
            elif sections:
                section = by_run.get(str(record.get("run")), sections[-1])
                _apply(section, sections, record)
    return sections


def _apply(section: JournalData, sections: list[JournalData], record: dict[str, Any]) -> None:
    """One event line, applied by the writer's own rules (``journal_records``)."""
    op, kind, ident = record.get("op"), record.get("kind"), record.get("id")
    at = float(record.get("at", 0.0))
    if not isinstance(kind, str) or not isinstance(ident, str):
        return
    where = {"bucket": record.get("bucket"), "key": record.get("key")}
    k: Kind = kind  # type: ignore[assignment]  # written by the Journal: a Kind
    if op == "intent":
        apply_intent(section, k, ident, at, **where)
    elif op == "created":
        apply_created(section, k, ident, at, adopted=bool(record.get("adopted")), **where)
    elif op == "kept":
        apply_kept(section, k, ident, at, **where)
    elif op in ("removed", "absent"):
        settle_all(sections, k, ident, "removed" if op == "removed" else "absent", at)


def format1_data(raw: dict[str, Any], now: float) -> tuple[JournalData, list[Resource]]:
    """The one section of a format-1 ``journal.json`` (``raw``, parsed), under a new marker
    (made at ``now``), the removed resources already settled; and every resource in the
    file's order."""
    resources = [
        Resource(
            kind=r["kind"],
            id=r["id"],
            created=r["created"],
            removed=r.get("removed"),
            bucket=r.get("bucket"),
            key=r.get("key"),
            state="created" if r.get("removed") is None else "removed",
        )
        for r in raw.pop("resources", [])
    ]
    known = {"started", "mode", "region", "profile", "endpoints", "config"}
    data = JournalData(**{k: v for k, v in raw.items() if k in known}, run=new_marker(now))
    data.resources = list(resources)
    for res in resources:
        if res.removed is not None:
            data.settle(res)
    return data, resources
