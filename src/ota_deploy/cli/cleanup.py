"""``ota-deploy cleanup``: remove what a run left behind, from its journal.

Finds the journal (``--out DIR``/journal.jsonl, else the pointer beside the dev.ini, else the
latest run's pointer under ~/.ota-deploy) and hands it to ``deploy.cleanup.clean_from_journal``,
which looks up every resource the journal still holds open (jobs first, then streams, groups,
objects, and a bucket the run made) and removes what exists, against the region/profile the run
used (the standard endpoint variables still apply). The reusable target group of a thing list
stays unless ``--groups`` is given.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ota_deploy.core.errors import InputError


def register(app: typer.Typer) -> None:
    """Add ``cleanup`` to the root app."""

    @app.command("cleanup")
    def cleanup(
        config: Path | None = typer.Option(
            None, "-c", "--config", help="The dev.ini whose latest run to clean up."
        ),
        out: Path | None = typer.Option(None, "--out", help="The run's output folder."),
        profile: str | None = typer.Option(None, "--profile", help="AWS profile name."),
        region: str | None = typer.Option(None, "--region", help="Override the run's region."),
        groups: bool = typer.Option(
            False, "--groups", help="Also remove the thing group kept for reuse by the run."
        ),
    ) -> None:
        """Delete the jobs, streams, thing groups, S3 objects and bucket a run left behind."""
        from ota_deploy.deploy.cleanup import clean_from_journal
        from ota_deploy.deploy.journal_pointer import find_journal

        if config is None and out is None and Path("dev.ini").is_file():
            config = Path("dev.ini")
        path = find_journal(out_dir=out, config=config)
        if path is None:
            where = f"{out}/journal.jsonl" if out else f"the last run of {config or 'this user'}"
            raise InputError(f"no run journal found ({where}); pass --out DIR of the run")
        summary = clean_from_journal(path, profile=profile, region=region, groups=groups)
        typer.echo(summary.text())
        raise SystemExit(0 if summary.ok else 3)
