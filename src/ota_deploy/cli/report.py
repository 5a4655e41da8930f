"""``ota-deploy report DIR [--junit FILE]``: re-render report.html (and JUnit XML) from report.json.

Data flow: DIR/report.json -> ``RunReport.read`` (pydantic validation) -> ``write_html`` ->
DIR/report.html, and ``write_junit`` -> FILE when asked. A missing or invalid report.json is
bad input (exit 2) naming the file; nothing is written then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ota_deploy.core.errors import InputError

if TYPE_CHECKING:
    from ota_deploy.report.model import RunReport


def load_report(path: Path) -> RunReport:
    """Read and validate report.json, turning every failure into an InputError naming it."""
    import json

    from pydantic import ValidationError

    from ota_deploy.report.model import RunReport

    if not path.is_file():
        raise InputError(
            "no report.json here (run `ota-deploy run --out DIR` first)", file=str(path)
        )
    try:
        return RunReport.read(path)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg}", file=str(path), line=err.lineno) from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(
            f"not a report.json of this tool: {where}: {first['msg']}"
            + (f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""),
            file=str(path),
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", file=str(path)) from None


def report_command(
    directory: Path = typer.Argument(..., help="A run's output folder (holds report.json)."),
    junit: Path | None = typer.Option(
        None, "--junit", help="Also write JUnit XML (one test case per round) to this file."
    ),
) -> None:
    """Re-render report.html (and JUnit XML) from DIR/report.json."""
    from ota_deploy.report.html import write_html
    from ota_deploy.report.junit import write_junit

    if not directory.is_dir():
        raise InputError("not a folder", file=str(directory))
    report = load_report(directory / "report.json")
    html_path = directory / "report.html"
    try:
        write_html(report, html_path)
        typer.echo(f"report: {html_path.resolve()}")
        if junit is not None:
            write_junit(report, junit)
            typer.echo(f"junit: {junit.resolve()}")
    except OSError as err:
        raise InputError(
            f"cannot write: {err.strerror}", file=str(err.filename or html_path)
        ) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("report")(report_command)
