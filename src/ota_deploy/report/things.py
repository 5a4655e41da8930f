"""Per-round per-thing files: ``things/round-001.jsonl`` beside report.json, streamed both ways.

Data flow: ``RoundReport.things`` (in memory, from the runner) -> ``write_things`` -> one JSON
object per line (a ``ThingResult`` with report.json's old field names; null fields and empty
statusDetails left out) -> ``iter_things`` -> ``ThingResult`` one at a time, so neither the
report nor a user's tool holds 10,000 x 34 records at once.

Why JSON Lines rather than CSV: statusDetails is a map whose keys the devices choose, which
JSON keeps as a map (CSV would need a JSON column anyway); every line validates as the
``ThingResult`` that report.json used to hold, so old tools change a path, not a parser; and
``jq``, ``pandas.read_json(lines=True)`` or a ``for line in file`` loop stream it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from ota_deploy.core.errors import InputError
from ota_deploy.report.model import RoundReport, ThingResult

THINGS_DIR = "things"


def things_file_name(round_number: int) -> str:
    """``things/round-007.jsonl``: relative to the report's folder, POSIX separators."""
    return f"{THINGS_DIR}/round-{round_number:03d}.jsonl"


def write_things(things: Iterable[ThingResult], path: Path) -> int:
    """Write one compact JSON object per thing; return how many were written. The file is
    written aside and renamed into place: a crash or Ctrl-C mid-write never leaves half a
    round's file under its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as out:
            for thing in things:
                out.write(thing.model_dump_json(exclude_defaults=True))
                out.write("\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def iter_things(path: Path) -> Iterator[ThingResult]:
    """Stream a per-round file; a missing file or a bad line is an InputError naming it."""
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield ThingResult.model_validate_json(line)
                except ValidationError as err:
                    first = err.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "(line)"
                    raise InputError(
                        f"not a per-thing record of this tool: {where}: {first['msg']}",
                        file=str(path),
                        line=number,
                    ) from None
    except FileNotFoundError:
        raise InputError("per-round file named by report.json is missing", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", file=str(path)) from None


def round_things(rnd: RoundReport, base_dir: Path | None) -> Iterable[ThingResult]:
    """This round's things: in memory (a run, or an old report.json with them inline), else
    streamed from ``things_file`` under ``base_dir`` (the folder that holds report.json)."""
    if rnd.things or rnd.things_file is None or base_dir is None:
        return rnd.things
    return iter_things(base_dir / rnd.things_file)
