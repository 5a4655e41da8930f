"""``ota-deploy run``: the manual's ``jobs_scheduler.py`` — every round of a dev.ini, end to end.

Parses options (the run options shared with ``stress``/``deploy`` come from ``cli.rounds``)
and hands the dev.ini to ``rounds.run_rounds`` (``wiring.run.execute``: for ``--local`` the
embedded AWS IoT + simulated fleet on a ``--time-scale`` clock).
Exit codes: 0 all rounds succeeded, 1 a round failed, 2 bad input, 3 AWS/infrastructure error,
130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ota_deploy.cli.options import option_group
from ota_deploy.cli.rounds import RunFlags, run_flags, run_rounds


def register(app: typer.Typer) -> None:
    """Add ``run`` to the root app."""

    @app.command("run")
    @option_group("flags", run_flags)
    def run(
        flags: RunFlags,
        config: Path = typer.Option(Path("dev.ini"), "-c", "--config", help="The dev.ini."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Validate and print a round's API calls; create nothing."
        ),
    ) -> None:
        """Deploy the dev.ini's OTA job for `rounds` rounds; stop at the first failed round
        (--keep-going: run them all and count the failures)."""
        run_rounds(flags, config, dry_run=dry_run)
