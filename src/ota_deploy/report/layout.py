"""A run's report on disk: report.json (run and per-round records) + one per-thing file a round.

Data flow (writing): ``RunReport`` -> ``things/round-NNN.jsonl`` per round that still has its
things in memory (``report.things``; a run's rounds were written as each ended,
``report.round_files``, and keep only ``things_file``) -> report.json with every existing field
except the rounds' ``things``, plus each round's ``things_file`` and ``download_sec``. Per-round
files come first, so a report.json never names a file that is not there yet.

Data flow (reading): DIR or DIR/report.json -> ``read_report`` -> ``RunReport`` whose rounds
carry ``things_file`` (things streamed later by ``things.round_things``), or, for a report.json
written before the per-round layout, the things inline as before. Every problem is an
``InputError`` naming the file (exit 2).
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from ota_deploy.core.errors import InputError
from ota_deploy.report.model import RunReport
from ota_deploy.report.things import THINGS_DIR, things_file_name, write_things

REPORT_JSON = "report.json"


def write_report(report: RunReport, out_dir: Path) -> list[Path]:
    """Write the per-round files not yet written and report.json into ``out_dir``; return
    report.json's path (first) and every per-round file the report names. Other per-round
    files there (an earlier run's) are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for rnd in report.rounds:
        if rnd.things:
            rnd.things_file = things_file_name(rnd.round)
            write_things(rnd.things, out_dir / rnd.things_file)
        if rnd.things_file:
            written.append(out_dir / rnd.things_file)
    keep = {p.name for p in written}
    for stale in (out_dir / THINGS_DIR).glob("round-*.jsonl"):
        if stale.name not in keep:
            stale.unlink()
    path = out_dir / REPORT_JSON
    body = report.model_dump_json(indent=2, exclude={"rounds": {"__all__": {"things"}}})
    aside = path.with_name(f".{REPORT_JSON}.tmp")  # an earlier run's report.json stays whole
    try:  # until this one is complete (a full disk must not cut it short)
        aside.write_text(body + "\n", encoding="utf-8")
        os.replace(aside, path)
    except OSError:
        aside.unlink(missing_ok=True)
        raise
    return [path, *written]


def _check_things_file(report: RunReport, path: Path) -> None:
    """A per-round file must lie in the report's folder: report.json is input like any other."""
    for i, rnd in enumerate(report.rounds):
        name = rnd.things_file
        if name is None:
            continue
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
            raise InputError(
                f"rounds.{i}.things_file must be a path inside the report's folder, not {name!r}",
                file=str(path),
            )


def read_report(location: Path) -> RunReport:
    """Read and validate a run's report (its folder or its report.json), old layout or new."""
    path = location / REPORT_JSON if location.is_dir() else location
    if not path.is_file():
        raise InputError(
            "no report.json here (run `ota-deploy run --out DIR` first)", file=str(path)
        )
    try:
        report = RunReport.model_validate_json(path.read_bytes())
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "json_invalid":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as bad:
                raise InputError(
                    f"not valid JSON: {bad.msg}", file=str(path), line=bad.lineno
                ) from None
            except UnicodeDecodeError as bad:
                raise InputError(f"cannot read: {bad}", file=str(path)) from None
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(
            f"not a report.json of this tool: {where}: {first['msg']}"
            + (f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""),
            file=str(path),
        ) from None
    except OSError as err:
        raise InputError(f"cannot read: {err}", file=str(path)) from None
    _check_things_file(report, path)
    return report
