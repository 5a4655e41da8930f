"""What every command that runs rounds shares (``run``, ``stress``, ``deploy``; not a command
module): its options, declared once, and the one function that runs the request and exits.

Flow::

    --local --out --profile --region --fail-rate --reject-rate --hang-rate --seed
    --time-scale --live/--no-live --html/--no-html --keep-going
        -> run_flags(...) -> RunFlags (FleetOptions checked, --time-scale positive, and no
           --local-only option without --local: exit 2 naming it, for every command here)
    run_rounds(flags, dev.ini | prepared=)
        -> deploy.entry.RunRequest -> wiring.run.execute (the run's time source; for --local the
           local AWS IoT + simulated fleet) -> "results: DIR", the error line, exit code
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from ota_deploy.cli.args import fleet_options_from_flags
from ota_deploy.core.errors import InputError

if TYPE_CHECKING:
    from ota_deploy.deploy.inputs import PreparedRun
    from ota_deploy.fleet.options import FleetOptions

# Options also taken alone (``prepare``). Typer takes an OptionInfo as a parameter's default
# and only reads it, so one object can serve every command that lists it.
LOCAL = typer.Option(
    False, "--local", help="Use the embedded local AWS IoT, with a simulated device per thing."
)
PROFILE = typer.Option(None, "--profile", help="AWS profile name.")
REGION = typer.Option(None, "--region", help="AWS region (overrides dev.ini's).")


@dataclass(frozen=True)
class RunFlags:
    """The options of a run, checked: where it runs, where its outputs go, how it shows."""

    local: bool
    out: Path | None
    profile: str | None
    region: str | None
    fleet: FleetOptions
    time_scale: float
    live: bool | None
    html: bool
    fleet_workers: int | None = None  # --local: fleet worker processes (None: by the cores)
    tls: bool = False  # --local: the devices connect over mutual TLS
    keep_going: bool = False  # go on after a failed round, count the failures
    target_group: str | None = None  # --target-group: the user's thing group ARN


def run_flags(
    local: bool = LOCAL,
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default ./ota-run-<timestamp>)."
    ),
    profile: str | None = PROFILE,
    region: str | None = REGION,
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
    keep_going: bool = typer.Option(
        False,
        "--keep-going",
        help="Go on after a failed round and count the failures (default: stop at the first; "
        "an AWS error still stops). Exit 1 if any round failed.",
    ),
    fleet_workers: int | None = typer.Option(
        None,
        "--fleet-workers",
        help="--local: fleet worker processes (default: the cores less one; 0: one process).",
    ),
    tls: bool = typer.Option(
        False, "--tls", help="--local: devices connect over mutual TLS, a certificate each."
    ),
    target_group: str | None = typer.Option(
        None,
        "--target-group",
        help="Target this existing thing group (its ARN) instead of a group the run makes "
        "for more than 100 things; the listed things should be its members.",
    ),
) -> RunFlags:
    """The shared options of ``run``, ``stress`` and ``deploy`` (``cli.options.option_group``)."""
    fleet = fleet_options_from_flags(
        fail_rate=fail_rate, reject_rate=reject_rate, hang_rate=hang_rate, seed=seed
    )
    if not local:
        given = {
            "--fail-rate": fail_rate != 0.0,
            "--reject-rate": reject_rate != 0.0,
            "--hang-rate": hang_rate != 0.0,
            "--seed": seed != 0,
            "--time-scale": time_scale != 1.0,
            "--fleet-workers": fleet_workers is not None,
            "--tls": tls,
        }
        for option, set_ in given.items():
            if set_:
                raise InputError(
                    "applies only with --local (the simulated fleet and the embedded AWS IoT)",
                    key=option,
                )
    if time_scale <= 0:
        raise InputError("must be positive", key="--time-scale")
    if fleet_workers is not None and fleet_workers < 0:
        raise InputError("must be 0 or more", key="--fleet-workers")
    if target_group is not None:
        from ota_deploy.deploy.targets import check_group_arn

        check_group_arn(target_group)
        if local:
            raise InputError(
                "names a group on AWS IoT (or a running `local serve`); the embedded --local "
                "AWS IoT starts empty",
                key="--target-group",
            )
    return RunFlags(
        local=local,
        out=out,
        profile=profile,
        region=region,
        fleet=fleet,
        time_scale=time_scale,
        live=live,
        html=html,
        keep_going=keep_going,
        fleet_workers=fleet_workers,
        tls=tls,
        target_group=target_group,
    )


def run_rounds(
    flags: RunFlags, config: Path, *, dry_run: bool = False, prepared: PreparedRun | None = None
) -> NoReturn:
    """Run the dev.ini ``config``, or a shell workflow's validated run ``prepared`` (``config``
    then names its source); print where the results are and any error; exit with its code."""
    from ota_deploy.deploy.entry import RunRequest
    from ota_deploy.wiring.layout import StackLayout
    from ota_deploy.wiring.run import execute

    req = RunRequest(
        config=config,
        local=flags.local,
        dry_run=dry_run,
        out_dir=flags.out,
        fleet=flags.fleet,
        profile=flags.profile,
        region=flags.region,
        live=flags.live,
        html=flags.html,
        keep_going=flags.keep_going,
        target_group=flags.target_group,
    )
    layout = StackLayout(fleet_workers=flags.fleet_workers, tls=flags.tls)
    outcome = execute(req, time_scale=flags.time_scale, prepared=prepared, layout=layout)
    if not dry_run:
        typer.echo(f"results: {outcome.out_dir}")
    if outcome.error:
        typer.secho(f"error: {outcome.error}", err=True, fg=typer.colors.RED)
    raise SystemExit(outcome.exit_code)
