"""``ota-deploy report DIR [--junit FILE]`` and ``ota-deploy report --compare RUN_A RUN_B``.

Data flow (one run): DIR -> ``report.layout.read_report`` (report.json; its per-round files
``things/round-NNN.jsonl``, or the things inline in a report.json written before them) ->
``digest_rounds`` (streams each round's things once) -> ``write_html`` -> DIR/report.html, and
``write_junit`` -> FILE when asked.

Data flow (two runs): RUN_A, RUN_B -> ``read_report`` each -> ``fill_download_stats`` (only
for old reports) -> ``compare_runs`` -> the comparison as text on stdout, ``--html FILE``,
``--junit FILE`` -> exit 1 when a figure regressed beyond the thresholds, else 0.

Any missing or invalid input is bad input (exit 2) naming the file; nothing is written then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ota_deploy.core.errors import EXIT_ROUND_FAILED, InputError

if TYPE_CHECKING:
    from ota_deploy.report.model import RunReport


def load_report(path: Path) -> RunReport:
    """Read and validate a run's report (its folder or report.json); InputError names it."""
    from ota_deploy.report.layout import read_report

    return read_report(path)


def _base_dir(location: Path) -> Path:
    return location if location.is_dir() else location.parent


def _render(directory: Path, junit: Path | None) -> None:
    from ota_deploy.report.digest import digest_rounds
    from ota_deploy.report.html import write_html
    from ota_deploy.report.junit import write_junit

    if not directory.is_dir():
        raise InputError("not a folder", file=str(directory))
    report = load_report(directory)
    digests = digest_rounds(report, directory)
    html_path = directory / "report.html"
    try:
        write_html(report, html_path, digests=digests)
        typer.echo(f"report: {html_path.resolve()}")
        if junit is not None:
            write_junit(report, junit, digests=digests)
            typer.echo(f"junit: {junit.resolve()}")
    except OSError as err:
        raise InputError(
            f"cannot write: {err.strerror}", file=str(err.filename or html_path)
        ) from None


def _compare(
    run_a: Path,
    run_b: Path,
    thresholds_: tuple[float, float, float],
    html: Path | None,
    junit: Path | None,
) -> int:
    from ota_deploy.report.compare import Thresholds, compare_runs, compare_text
    from ota_deploy.report.digest import fill_download_stats
    from ota_deploy.report.html_compare import render_compare_html
    from ota_deploy.report.junit import write_compare_junit

    reports = []
    for run in (run_a, run_b):
        report = load_report(run)
        fill_download_stats(report, _base_dir(run))
        reports.append(report)
    pct, sec, fail_pct = thresholds_
    cmp = compare_runs(
        reports[0],
        reports[1],
        Thresholds(pct=pct, sec=sec, fail_pct=fail_pct),
        label_a=str(run_a),
        label_b=str(run_b),
    )
    typer.echo(compare_text(cmp), nl=False)
    target = html
    try:
        if html is not None:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_compare_html(cmp), encoding="utf-8")
            typer.echo(f"compare: {html.resolve()}")
        target = junit
        if junit is not None:
            write_compare_junit(cmp, junit)
            typer.echo(f"junit: {junit.resolve()}")
    except OSError as err:
        raise InputError(
            f"cannot write: {err.strerror}", file=str(err.filename or target)
        ) from None
    return EXIT_ROUND_FAILED if cmp.regressions else 0


def report_command(
    directory: Path | None = typer.Argument(
        None, metavar="DIR", help="A run's output folder (holds report.json and things/)."
    ),
    junit: Path | None = typer.Option(
        None,
        "--junit",
        help="Also write JUnit XML: one test case per round; with --compare, one per "
        "compared figure (a regression is a failure).",
    ),
    compare: tuple[Path, Path] | None = typer.Option(
        None,
        "--compare",
        metavar="RUN_A RUN_B",
        help="Compare run B with baseline run A (output folders or report.json files): their "
        "trend figures side by side; exit 1 if B regressed beyond the thresholds.",
    ),
    html: Path | None = typer.Option(
        None, "--html", help="With --compare: also write the comparison page (HTML) here."
    ),
    threshold_pct: float = typer.Option(
        10.0,
        "--threshold-pct",
        min=0.0,
        help="With --compare: a time figure regresses when B is slower than A by more than "
        "this percent of A ...",
    ),
    threshold_sec: float = typer.Option(
        0.5,
        "--threshold-sec",
        min=0.0,
        help="... and by more than this many seconds.",
    ),
    threshold_fail_pct: float = typer.Option(
        1.0,
        "--threshold-fail-pct",
        min=0.0,
        help="With --compare: the share of executions that did not succeed regresses when it "
        "grows by more than this many percentage points.",
    ),
) -> None:
    """Re-render report.html (and JUnit XML) from DIR, or compare two runs (--compare)."""
    if compare is None:
        if directory is None:
            raise InputError("give a run's output folder, or --compare RUN_A RUN_B")
        if html is not None:
            raise InputError("--html is for --compare (DIR's page is DIR/report.html)")
        _render(directory, junit)
        return
    if directory is not None:
        raise InputError(f"give either DIR ({directory}) or --compare RUN_A RUN_B, not both")
    thresholds = (threshold_pct, threshold_sec, threshold_fail_pct)
    code = _compare(compare[0], compare[1], thresholds, html, junit)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("report")(report_command)
