"""Writing a run's outputs: ``results.csv`` (the manual's format), ``report.json``, report.html.

``results.csv`` is exactly three lines, as the original tool wrote them::

    total,<rounds planned>
    fail,<rounds that failed: FAILED, CANCELED, TIMED_OUT or ERROR>
    succeed,<rounds that succeeded>

(rounds that never ran count in ``total`` only; a round stopped by Ctrl-C / SIGTERM is
``INTERRUPTED``: neither ``fail`` nor ``succeed``, it is counted in report.json's
``summary.interrupted``). ``report.json`` is
``report.model.RunReport`` without the per-thing records, which go to ``things/round-NNN.jsonl``
(``report.layout``, ``report.things``; a run writes each round's file when the round ends,
``report.round_files``); ``report.html`` is drawn by ``report.html.render_html``
(inline SVG charts), and a problem drawing it never fails the run.

A file that cannot be written (disk full, a read-only ``--out``, its name taken by a folder):
every other output is still written, then one ``core.output_error.OutputError`` (exit 3) names
each file not written and why, and what was written. Files are written aside and renamed into
place (``report.json`` by ``report.layout``), so a failed write leaves no half file under
its name, and an earlier run's file in a reused ``--out`` stays whole. The caller
(``deploy.entry``) has flushed the journal and cleaned up by then.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ota_deploy.core.output_error import OutputError, reason
from ota_deploy.core.status import RoundStatus
from ota_deploy.report.digest import digest_rounds
from ota_deploy.report.html import render_html
from ota_deploy.report.layout import REPORT_JSON, write_report
from ota_deploy.report.model import RoundReport, RunReport, Summary
from ota_deploy.report.round_files import RoundFiles
from ota_deploy.report.things import THINGS_DIR, things_file_name, write_things

log = logging.getLogger(__name__)

FAILED_STATUSES = frozenset(
    {RoundStatus.FAILED, RoundStatus.CANCELED, RoundStatus.TIMED_OUT, RoundStatus.ERROR}
)


def summarize(rounds: list[RoundReport], planned: int) -> Summary:
    """Counts of the rounds that ran; every planned round not among them is ``skipped``."""
    succeeded = sum(1 for r in rounds if r.status == RoundStatus.SUCCEEDED)
    failed = sum(1 for r in rounds if r.status in FAILED_STATUSES)
    interrupted = sum(1 for r in rounds if r.status == RoundStatus.INTERRUPTED)
    return Summary(
        total=planned,
        succeeded=succeeded,
        failed=failed,
        skipped=planned - succeeded - failed - interrupted,
        interrupted=interrupted,
    )


def results_csv_text(summary: Summary) -> str:
    return f"total,{summary.total}\nfail,{summary.failed}\nsucceed,{summary.succeeded}\n"


def write_results_csv(summary: Summary, path: Path) -> None:
    """Written aside and renamed into place: never half a results.csv under its name."""
    _replace_with(path, results_csv_text(summary))


def _replace_with(path: Path, text: str) -> None:
    """``text`` written aside, then renamed to ``path`` (the aside file never stays)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_outputs(
    report: RunReport,
    out_dir: Path,
    *,
    html: bool = True,
    round_files: RoundFiles | None = None,
) -> list[Path]:
    """Write results.csv, report.json with its per-round files (``report.layout``) and (best
    effort) report.html; return results.csv, report.json, the per-round folder if the report
    has per-round files, and report.html. ``round_files``: the rounds already written as they
    ended (a run's ``report.round_files.RoundFiles``), whose digests are used as they are;
    without it every round's things are in memory. ``OutputError`` when any of them could
    not be written, after writing all the others."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"cannot write the run's outputs: the folder {out_dir} cannot be made ({reason(err)})"
        ) from None
    failed: list[str] = []  # "name (why)"
    written: list[Path] = []

    def attempt(name: str, write: Callable[..., object], *args: object) -> bool:
        """``write(*args)``; an OSError is noted as ``name`` not written, and why."""
        try:
            write(*args)
        except OSError as err:
            failed.append(f"{name} ({reason(err)})")
            return False
        return True

    csv = out_dir / "results.csv"
    if attempt(csv.name, write_results_csv, report.summary, csv):
        written.append(csv)
    # download_sec and the digests, before report.json is written
    if round_files is not None:
        digests = round_files.digests_for(report.rounds)
    else:
        digests = digest_rounds(report, None)
    per_round = _write_round_files(report, out_dir, attempt)
    if attempt(REPORT_JSON, _write_report_json, report, out_dir):
        written.append(out_dir / REPORT_JSON)
    if per_round:
        written.append(out_dir / THINGS_DIR)
    if html:
        target = out_dir / "report.html"
        try:
            page = render_html(report, digests=digests)
            if attempt(target.name, _replace_with, target, page):
                written.append(target)
        except Exception as err:  # a chart problem must not turn a good run into a failure
            log.warning("report.html could not be written: %s", err)
    if failed:
        done = ", ".join(p.name for p in written) or "nothing"
        raise OutputError(
            f"cannot write the run's outputs in {out_dir}: {_listed(failed)}; written: {done}"
        )
    return written


def _listed(failed: list[str], rounds_shown: int = 3) -> str:
    """The files not written; of many per-round files, the first few and a count (a long
    run's thousand rounds stay one readable line)."""
    rounds = [f for f in failed if f.startswith(f"{THINGS_DIR}/")]
    if len(rounds) > rounds_shown:
        others = [f for f in failed if f not in rounds]
        hidden = len(rounds) - rounds_shown
        failed = [*others, *rounds[:rounds_shown], f"and {hidden} more per-round file(s)"]
    return ", ".join(failed)


def _write_round_files(report: RunReport, out_dir: Path, attempt: Callable[..., bool]) -> bool:
    """The per-round files of the rounds whose things are still in memory, each on its own
    (one that cannot be written is named, the others still go out); True when the report
    names any per-round file."""
    for rnd in report.rounds:
        if rnd.things:
            name = things_file_name(rnd.round)
            if attempt(name, write_things, rnd.things, out_dir / name):
                rnd.things_file = name
    return any(r.things_file for r in report.rounds)


def _write_report_json(report: RunReport, out_dir: Path) -> None:
    """report.json by ``report.layout`` (the per-round files are written already: it is given
    the rounds without their things; it writes aside and renames)."""
    bare = report.model_copy(
        update={"rounds": [r.model_copy(update={"things": []}) for r in report.rounds]}
    )
    write_report(bare, out_dir)
