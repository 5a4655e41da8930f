"""``ota-deploy demo``: the first thing a newcomer runs — a whole stress test on the local AWS IoT.

Flow::

    write_demo_folder(DIR)   dev.ini (the manual's, role ARN filled, cleanUpCfg True, short
                             defaultDelay), thingsList.txt (N thing ARNs), firmware.bin
                             (seeded random bytes, some hundreds of KiB)
    wiring.run.execute(RunRequest(DIR/dev.ini, local=True, out_dir=DIR/out, fleet=...))
                             exactly ``ota-deploy run -c DIR/dev.ini --local --out DIR/out``:
                             embedded AWS IoT + simulated fleet, live view on a terminal
    -> prints where report.html is; exit code of the run (0 when every round succeeded)

The fleet has a few flaky-but-successful devices (a share drop the link mid-download and
resume; every device's link is throttled so downloads are visible in the live view). They
are not failures, so the demo exits 0 unless ``--fail-rate`` / ``--reject-rate`` ask for some.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import typer

from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError

MARKER = ".ota-demo"  # written into DIR, so a re-run may replace DIR/out safely
FIRMWARE_SIZE = 256 * 1024


def demo_thing_names(devices: int) -> list[str]:
    width = max(2, len(str(devices)))
    return [f"ota-demo-device-{i:0{width}d}" for i in range(1, devices + 1)]


def demo_ini_text(*, rounds: int, default_delay: float = 1.0) -> str:
    from ota_deploy.config.sample import SAMPLE_DIR, edit_ini

    text = (SAMPLE_DIR / "dev.ini").read_text(encoding="utf-8")
    changes: dict[tuple[str, str], str | None] = {
        ("DEFAULT", "thingList"): "thingsList.txt",
        ("DEFAULT", "binName"): "firmware.bin",
        ("DEFAULT", "roleArn"): f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ota-demo-service-role",
        ("DEFAULT", "jobId"): "OtaDemoJob",
        ("DEFAULT", "streamId"): "OtaDemoStream",
        ("DEFAULT", "rounds"): str(rounds),
        ("DEFAULT", "bucket"): "ota-demo-bucket",
        ("DEFAULT", "cleanUpCfg"): "True",
        ("DEFAULT", "defaultDelay"): f"{default_delay:g}",
        ("DEFAULT", "region"): DEFAULT_REGION,
        ("DEFAULT", "iotApiSleepTime"): "10",
        # A stuck demo round fails after two minutes instead of the default hour.
        ("DEFAULT", "roundTimeout"): "120s",
    }
    header = (
        "# Written by `ota-deploy demo`: the manual's dev.ini with a demo role ARN, cleanup on,\n"
        "# a short delay between rounds and a 2-minute round timeout. Run it again with:\n"
        "#   ota-deploy run -c dev.ini --local --out out\n"
    )
    body = "\n".join(
        line for line in edit_ini(text, changes).splitlines() if not line.startswith("# ")
    )
    return header + body.lstrip("\n") + "\n"


def write_demo_folder(directory: Path, *, devices: int, rounds: int, seed: int) -> Path:
    """Write dev.ini, thingsList.txt and firmware.bin into ``directory``; the dev.ini path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("written by ota-deploy demo\n", encoding="utf-8")
    ini = directory / "dev.ini"
    ini.write_text(demo_ini_text(rounds=rounds), encoding="utf-8")
    arns = [
        f"arn:aws:iot:{DEFAULT_REGION}:{LOCAL_ACCOUNT}:thing/{name}"
        for name in demo_thing_names(devices)
    ]
    (directory / "thingsList.txt").write_text("\n".join(arns) + "\n", encoding="utf-8")
    firmware = random.Random(f"ota-demo-firmware:{seed}").randbytes(FIRMWARE_SIZE)
    (directory / "firmware.bin").write_bytes(firmware)
    return ini


def demo_command(
    devices: int = typer.Option(10, "--devices", min=1, max=100, help="Simulated devices."),
    rounds: int = typer.Option(3, "--rounds", min=1, max=50, help="Rounds to run."),
    directory: Path = typer.Option(Path("ota-demo"), "--dir", help="Folder to write and run."),
    fail_rate: float = typer.Option(0.0, "--fail-rate", min=0, max=1, help="Share that FAIL."),
    reject_rate: float = typer.Option(
        0.0, "--reject-rate", min=0, max=1, help="Share that REJECT."
    ),
    disconnect_rate: float = typer.Option(
        0.2, "--disconnect-rate", min=0, max=1, help="Share that drop the link and resume."
    ),
    slow_link_kib: int = typer.Option(
        128, "--link-kib", min=1, help="Each device's download speed, KiB/s."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the firmware and of device behaviour."),
    live: bool | None = typer.Option(
        None, "--live/--no-live", help="Live view (default: when stdout is a terminal)."
    ),
    tls: bool = typer.Option(
        False, "--tls", help="Devices connect over mutual TLS, each with its own certificate."
    ),
    fleet_workers: int | None = typer.Option(
        None, "--fleet-workers", min=0, help="Fleet worker processes (0: one process)."
    ),
) -> None:
    """Write a sample dev.ini, thing list and firmware, run them on the local AWS IoT, report."""
    from ota_deploy.deploy.entry import RunRequest
    from ota_deploy.fleet.options import FleetOptions
    from ota_deploy.wiring.layout import StackLayout
    from ota_deploy.wiring.run import execute

    if directory.exists() and not directory.is_dir():
        raise InputError("exists and is not a folder", file=str(directory), key="--dir")
    out_dir = directory / "out"
    if out_dir.exists():
        if not (directory / MARKER).exists():
            raise InputError(
                "has an 'out' folder not written by the demo; choose another --dir",
                file=str(directory),
                key="--dir",
            )
        shutil.rmtree(out_dir)
    ini = write_demo_folder(directory, devices=devices, rounds=rounds, seed=seed)
    typer.echo(
        f"demo: {devices} simulated devices, {rounds} rounds, firmware "
        f"{FIRMWARE_SIZE // 1024} KiB, folder {directory.resolve()}"
    )
    flags = " --tls" if tls else ""
    typer.echo(f"      (the same as: ota-deploy run -c {ini} --local{flags} --out {out_dir})")
    fleet = FleetOptions.model_validate(
        {
            "fail_rate": fail_rate,
            "reject_rate": reject_rate,
            "disconnect_rate": disconnect_rate,
            "slow_link_bps": slow_link_kib * 1024,
            "seed": seed,
        }
    )
    req = RunRequest(config=ini, local=True, out_dir=out_dir, fleet=fleet, live=live)
    outcome = execute(req, layout=StackLayout(fleet_workers=fleet_workers, tls=tls))
    html = out_dir / "report.html"
    if outcome.error:
        typer.secho(f"error: {outcome.error}", err=True, fg=typer.colors.RED)
    if html.exists():
        typer.echo(f"report: {html.resolve()}")
        typer.echo(f"        (re-render with: ota-deploy report {out_dir})")
    verdict = {0: "every round succeeded", 1: "a round failed"}.get(
        outcome.exit_code, f"ended with exit code {outcome.exit_code}"
    )
    typer.echo(f"demo {verdict}.")
    raise typer.Exit(outcome.exit_code)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("demo")(demo_command)
