"""``ota-deploy run``: the manual's ``jobs_scheduler.py`` — every round of a dev.ini, end to end.

Parses options, builds a ``deploy.entry.RunRequest`` and hands it to ``execute_run``; for
``--local`` it passes ``cli.local_stack.stack_for_run`` (embedded AWS IoT + simulated fleet).
Exit codes: 0 all rounds succeeded, 1 a round failed, 2 bad input, 3 AWS/infrastructure error,
130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ota_deploy.cli.args import fleet_options_from_flags
from ota_deploy.core.errors import InputError


def register(app: typer.Typer) -> None:
    """Add ``run`` to the root app."""

    @app.command("run")
    def run(
        config: Path = typer.Option(Path("dev.ini"), "-c", "--config", help="The dev.ini."),
        local: bool = typer.Option(
            False, "--local", help="Run against the embedded local AWS IoT with simulated devices."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Validate and print a round's API calls; create nothing."
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Output folder (default ./ota-run-<timestamp>)."
        ),
        profile: str | None = typer.Option(None, "--profile", help="AWS profile name."),
        region: str | None = typer.Option(None, "--region", help="Override dev.ini's region."),
        fail_rate: float = typer.Option(0.0, "--fail-rate", help="--local: share that FAIL."),
        reject_rate: float = typer.Option(0.0, "--reject-rate", help="--local: share that REJECT."),
        hang_rate: float = typer.Option(0.0, "--hang-rate", help="--local: share that hang."),
        seed: int = typer.Option(0, "--seed", help="--local: seed of the fleet's behaviour."),
        time_scale: float = typer.Option(
            1.0, "--time-scale", help="--local: virtual time runs this many times faster."
        ),
        live: bool | None = typer.Option(
            None, "--live/--no-live", help="Live table (default: when stdout is a terminal)."
        ),
        html: bool = typer.Option(True, "--html/--no-html", help="Also write report.html."),
    ) -> None:
        """Deploy the dev.ini's OTA job for `rounds` rounds; stop at the first failure."""
        from ota_deploy.deploy.entry import RunRequest, execute_run

        fleet = fleet_options_from_flags(
            fail_rate=fail_rate, reject_rate=reject_rate, hang_rate=hang_rate, seed=seed
        )
        if not local and (fail_rate or reject_rate or hang_rate or time_scale != 1.0):
            raise InputError(
                "--fail-rate, --reject-rate, --hang-rate and --time-scale apply only with --local",
                key="--local",
            )
        if time_scale <= 0:
            raise InputError("must be positive", key="--time-scale")
        req = RunRequest(
            config=config,
            local=local,
            dry_run=dry_run,
            out_dir=out,
            fleet=fleet,
            profile=profile,
            region=region,
            live=live,
            time_scale=time_scale,
            html=html,
        )
        stack = None
        if local:
            from ota_deploy.cli.local_stack import stack_for_run

            stack = stack_for_run
        outcome = execute_run(req, stack_factory=stack)
        if not dry_run:
            typer.echo(f"results: {outcome.out_dir}")
        if outcome.error:
            typer.secho(f"error: {outcome.error}", err=True, fg=typer.colors.RED)
        raise SystemExit(outcome.exit_code)
