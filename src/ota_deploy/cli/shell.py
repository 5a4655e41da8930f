"""The manual's shell workflows: ``deploy`` (main.sh), ``prepare`` (OtaEnvBuild.sh) and
``stress`` (OtaStressStart.sh), with the manual's positional arguments.

Each validates its arguments first (exit 2, nothing created), then works against real AWS or,
with ``--local``, against the embedded AWS IoT with a simulated device per listed thing. The
rounds run through the same runner as ``ota-deploy run`` (``deploy.entry.execute_prepared``), so
the outputs (results.csv, report.json, journal) and exit codes are the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from ota_deploy.core.errors import InputError

LOCAL_ACCOUNT = "123456789012"

# Options the three commands share, declared once. Typer takes an OptionInfo as a parameter's
# default and only reads it, so one object can serve every command that lists it.
_LOCAL = typer.Option(False, "--local", help="Use the embedded local AWS IoT.")
_BUCKET = typer.Option(None, "--bucket", help="Default: from the account.")
_FILE_ID = typer.Option(None, "--file-id", help="0-255; default from the image.")
_FOLDER = typer.Option(Path("."), "--dir", help="Where the two JSON files go.")
_PROFILE = typer.Option(None, "--profile")
_REGION = typer.Option(None, "--region")
# ... and those of the rounds that ``stress`` and ``deploy`` run
_OUT = typer.Option(None, "--out")
_DELAY = typer.Option(5.0, "--delay", help="Seconds between rounds.")
_ROUND_TIMEOUT = typer.Option(3600.0, "--round-timeout", help="Seconds per round.")
_CLEANUP = typer.Option(True, "--cleanup/--no-cleanup")
_FAIL_RATE = typer.Option(0.0, "--fail-rate")
_REJECT_RATE = typer.Option(0.0, "--reject-rate")
_HANG_RATE = typer.Option(0.0, "--hang-rate")
_SEED = typer.Option(0, "--seed")
_TIME_SCALE = typer.Option(1.0, "--time-scale")
_LIVE = typer.Option(None, "--live/--no-live")
_HTML = typer.Option(True, "--html/--no-html")


def _fleet(fail_rate: float, reject_rate: float, hang_rate: float, seed: int) -> Any:
    from ota_deploy.cli.args import fleet_options_from_flags

    return fleet_options_from_flags(
        fail_rate=fail_rate, reject_rate=reject_rate, hang_rate=hang_rate, seed=seed
    )


def _bucket_resolver(bucket: str | None, local: bool, region: str, profile: str | None) -> Any:
    """The bucket name, or a function that derives it from the account (an STS call)."""
    from ota_deploy.deploy.shellflows import default_bucket

    if bucket:
        return bucket
    if local:
        return default_bucket(LOCAL_ACCOUNT, region)

    def resolve() -> str:
        from ota_deploy.aws.identity import account_id
        from ota_deploy.aws.retry import open_clients
        from ota_deploy.aws.session import AwsTarget

        return default_bucket(
            account_id(open_clients(AwsTarget(region=region, profile=profile))), region
        )

    return resolve


def _finish(outcome: Any) -> None:
    typer.echo(f"results: {outcome.out_dir}")
    if outcome.error:
        typer.secho(f"error: {outcome.error}", err=True, fg=typer.colors.RED)
    raise SystemExit(outcome.exit_code)


@contextlib.contextmanager
def _upload_target(local: bool, region: str, profile: str | None) -> Iterator[Any]:
    from ota_deploy.aws.session import AwsTarget

    if not local:
        yield AwsTarget(region=region, profile=profile)
        return
    from ota_deploy.cli.local_stack import LocalStack

    with LocalStack(region=region, account=LOCAL_ACCOUNT, start_fleet=False) as target:
        yield target


def register(app: typer.Typer) -> None:
    """Add ``deploy``, ``prepare`` and ``stress`` to the root app."""

    @app.command("prepare")
    def prepare(
        bin_file: Path = typer.Argument(..., metavar="BIN", help="The firmware binary."),
        role_arn: str = typer.Argument(..., metavar="ROLE_ARN", help="The OTA service role."),
        stream_id: str = typer.Argument(..., metavar="STREAM_ID"),
        private_key: Path | None = typer.Argument(
            None, metavar="PRIVATE_KEY", help="ECDSA P-256 PEM key: sign the image."
        ),
        bucket: str | None = _BUCKET,
        file_id: int | None = _FILE_ID,
        folder: Path = _FOLDER,
        local: bool = _LOCAL,
        profile: str | None = _PROFILE,
        region: str | None = _REGION,
    ) -> None:
        """OtaEnvBuild.sh: write example-job.json + create-stream.json, upload the binary."""
        from ota_deploy.aws.retry import open_clients
        from ota_deploy.aws.s3_ops import S3Ops
        from ota_deploy.aws.session import default_region
        from ota_deploy.deploy.shellflows import prepare_files

        reg = default_region(region)
        files = prepare_files(
            bin_file,
            role_arn,
            stream_id,
            private_key,
            bucket=_bucket_resolver(bucket, local, reg, profile),
            folder=folder,
            file_id=file_id,
        )
        with _upload_target(local, reg, profile) as target:
            s3 = S3Ops(open_clients(target).s3, reg)
            s3.ensure_bucket(files.bucket)
            s3.upload_file(files.firmware.path, files.bucket, files.key)
        typer.echo(f"uploaded {bin_file} to s3://{files.bucket}/{files.key}")
        typer.echo(f"wrote {files.stream_json}")
        typer.echo(files.stream_json.read_text().rstrip())
        typer.echo(f"wrote {files.job_json}")
        typer.echo(files.job_json.read_text().rstrip())

    @app.command("stress")
    def stress(
        thing_list: Path = typer.Argument(..., metavar="THINGLIST"),
        job_id: str = typer.Argument(..., metavar="JOB_ID"),
        rounds: int = typer.Argument(..., metavar="ROUNDS"),
        job_json: str = typer.Argument(..., metavar="JOB_JSON", help="file://job.json or path"),
        stream_json: str = typer.Argument(..., metavar="STREAM_JSON", help="create-stream JSON"),
        stream_id: str = typer.Argument(..., metavar="STREAM_ID"),
        firmware: Path | None = typer.Option(
            None, "--firmware", help="Upload this binary to the stream's s3Location first."
        ),
        local: bool = _LOCAL,
        out: Path | None = _OUT,
        profile: str | None = _PROFILE,
        region: str | None = _REGION,
        delay: float = _DELAY,
        round_timeout: float = _ROUND_TIMEOUT,
        cleanup: bool = _CLEANUP,
        fail_rate: float = _FAIL_RATE,
        reject_rate: float = _REJECT_RATE,
        hang_rate: float = _HANG_RATE,
        seed: int = _SEED,
        time_scale: float = _TIME_SCALE,
        live: bool | None = _LIVE,
        html: bool = _HTML,
    ) -> None:
        """OtaStressStart.sh: ROUNDS rounds with your own job document and stream request."""
        from ota_deploy.deploy.shellflows import prepare_stress

        fleet = _fleet(fail_rate, reject_rate, hang_rate, seed)
        if local and firmware is None:
            typer.secho(
                "warning: the local AWS IoT starts with an empty S3; without --firmware BIN the "
                "stream's file does not exist and the devices will fail",
                err=True,
                fg=typer.colors.YELLOW,
            )
        prepared = prepare_stress(
            thing_list,
            job_id,
            rounds,
            job_json,
            stream_json,
            stream_id,
            region=region,
            clean_up=cleanup,
            delay_sec=delay,
            round_timeout_sec=round_timeout,
            firmware=firmware,
        )
        _run(
            prepared,
            local=local,
            out=out,
            fleet=fleet,
            profile=profile,
            time_scale=time_scale,
            live=live,
            html=html,
        )

    @app.command("deploy")
    def deploy(
        thing_list: Path = typer.Argument(..., metavar="THINGLIST"),
        bin_file: Path = typer.Argument(..., metavar="BIN"),
        role_arn: str = typer.Argument(..., metavar="ROLE_ARN"),
        job_id: str = typer.Argument(..., metavar="JOB_ID"),
        rounds: int = typer.Argument(..., metavar="ROUNDS"),
        stream_id: str = typer.Argument(..., metavar="STREAM_ID"),
        private_key: Path | None = typer.Argument(None, metavar="PRIVATE_KEY"),
        bucket: str | None = _BUCKET,
        file_id: int | None = _FILE_ID,
        folder: Path = _FOLDER,
        local: bool = _LOCAL,
        out: Path | None = _OUT,
        profile: str | None = _PROFILE,
        region: str | None = _REGION,
        delay: float = _DELAY,
        round_timeout: float = _ROUND_TIMEOUT,
        cleanup: bool = _CLEANUP,
        fail_rate: float = _FAIL_RATE,
        reject_rate: float = _REJECT_RATE,
        hang_rate: float = _HANG_RATE,
        seed: int = _SEED,
        time_scale: float = _TIME_SCALE,
        live: bool | None = _LIVE,
        html: bool = _HTML,
    ) -> None:
        """main.sh: prepare the documents and upload the binary, then the stress rounds."""
        from ota_deploy.aws.session import default_region
        from ota_deploy.deploy.shellflows import prepare_files, prepare_stress

        fleet = _fleet(fail_rate, reject_rate, hang_rate, seed)
        reg = default_region(region)
        if not thing_list.is_file():  # checked before the STS call a default bucket needs
            raise InputError("thing list not found", file=str(thing_list), key="THINGLIST")
        files = prepare_files(
            bin_file,
            role_arn,
            stream_id,
            private_key,
            bucket=_bucket_resolver(bucket, local, reg, profile),
            folder=folder,
            file_id=file_id,
        )
        prepared = prepare_stress(
            thing_list,
            job_id,
            rounds,
            str(files.job_json),
            str(files.stream_json),
            stream_id,
            region=reg,
            clean_up=cleanup,
            delay_sec=delay,
            round_timeout_sec=round_timeout,
            firmware=bin_file,
            signing_key=private_key,
        )
        # the run uploads the image itself (same session: works --local too)
        _run(
            prepared,
            local=local,
            out=out,
            fleet=fleet,
            profile=profile,
            time_scale=time_scale,
            live=live,
            html=html,
        )


def _run(
    prepared: Any,
    *,
    local: bool,
    out: Path | None,
    fleet: Any,
    profile: str | None,
    time_scale: float,
    live: bool | None,
    html: bool = True,
) -> None:
    from ota_deploy.deploy.entry import RunRequest, default_out_dir, execute_prepared

    if time_scale <= 0:
        raise InputError("must be positive", key="--time-scale")
    req = RunRequest(
        config=prepared.settings.source,
        local=local,
        out_dir=out,
        fleet=fleet,
        profile=profile,
        live=live,
        time_scale=time_scale,
        html=html,
    )
    stack = None
    if local:
        from ota_deploy.cli.local_stack import stack_for_run

        stack = stack_for_run
    outcome = execute_prepared(
        prepared, req, out_dir=out or default_out_dir(), stack_factory=stack, pointer_config=None
    )
    _finish(outcome)
