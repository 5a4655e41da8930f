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
``report.round_files``); ``report.html`` is drawn by ``report.html.write_html``
(inline SVG charts), and a failure there never fails the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ota_deploy.core.status import RoundStatus
from ota_deploy.report.digest import digest_rounds
from ota_deploy.report.html import write_html
from ota_deploy.report.layout import write_report
from ota_deploy.report.model import RoundReport, RunReport, Summary
from ota_deploy.report.round_files import RoundFiles
from ota_deploy.report.things import THINGS_DIR

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
    path.write_text(results_csv_text(summary), encoding="utf-8")


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
    without it every round's things are in memory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.csv"]
    write_results_csv(report.summary, written[0])
    # download_sec and the digests, before report.json is written
    if round_files is not None:
        digests = round_files.digests_for(report.rounds)
    else:
        digests = digest_rounds(report, None)
    report_json, *per_round = write_report(report, out_dir)
    written.append(report_json)
    if per_round:
        written.append(out_dir / THINGS_DIR)
    if html:
        target = out_dir / "report.html"
        try:
            write_html(report, target, digests=digests)
            written.append(target)
        except Exception as err:  # a chart problem must not turn a good run into a failure
            log.warning("report.html could not be written: %s", err)
    return written
