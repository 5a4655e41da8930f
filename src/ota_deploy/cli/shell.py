"""The manual's shell workflows: ``deploy`` (main.sh), ``prepare`` (OtaEnvBuild.sh) and
``stress`` (OtaStressStart.sh), with the manual's positional arguments.

Each validates its arguments first (exit 2, nothing created), then works against real AWS or,
with ``--local``, against the embedded AWS IoT with a simulated device per listed thing. The
rounds run through the same runner as ``ota-deploy run`` (``cli.rounds.run_rounds``, with the
same run options), so the outputs (results.csv, report.json, journal) and exit codes are the
same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from ota_deploy.cli.options import option_group
from ota_deploy.cli.rounds import LOCAL, PROFILE, REGION, RunFlags, run_flags, run_rounds
from ota_deploy.core.defaults import LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError

# Options the commands share beyond the run options of ``cli.rounds``, declared once.
_BUCKET = typer.Option(None, "--bucket", help="Default: from the account.")
_FILE_ID = typer.Option(None, "--file-id", help="0-255; default from the image.")
_FOLDER = typer.Option(Path("."), "--dir", help="Where the two JSON files go.")
_DELAY = typer.Option(5.0, "--delay", help="Seconds between rounds.")
_ROUND_TIMEOUT = typer.Option(3600.0, "--round-timeout", help="Seconds per round.")
_CLEANUP = typer.Option(True, "--cleanup/--no-cleanup")


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


@contextlib.contextmanager
def _upload_target(local: bool, region: str, profile: str | None) -> Iterator[Any]:
    from ota_deploy.aws.session import AwsTarget

    if not local:
        yield AwsTarget(region=region, profile=profile)
        return
    from ota_deploy.wiring.clock import time_source
    from ota_deploy.wiring.local_stack import LocalStack

    with LocalStack(region=region, clock=time_source(local=True), start_fleet=False) as target:
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
        local: bool = LOCAL,
        profile: str | None = PROFILE,
        region: str | None = REGION,
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
    @option_group("flags", run_flags)
    def stress(
        flags: RunFlags,
        thing_list: Path = typer.Argument(..., metavar="THINGLIST"),
        job_id: str = typer.Argument(..., metavar="JOB_ID"),
        rounds: int = typer.Argument(..., metavar="ROUNDS"),
        job_json: str = typer.Argument(..., metavar="JOB_JSON", help="file://job.json or path"),
        stream_json: str = typer.Argument(..., metavar="STREAM_JSON", help="create-stream JSON"),
        stream_id: str = typer.Argument(..., metavar="STREAM_ID"),
        firmware: Path | None = typer.Option(
            None, "--firmware", help="Upload this binary to the stream's s3Location first."
        ),
        delay: float = _DELAY,
        round_timeout: float = _ROUND_TIMEOUT,
        cleanup: bool = _CLEANUP,
    ) -> None:
        """OtaStressStart.sh: ROUNDS rounds with your own job document and stream request."""
        from ota_deploy.deploy.shellflows import prepare_stress

        if flags.local and firmware is None:
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
            region=flags.region,
            clean_up=cleanup,
            delay_sec=delay,
            round_timeout_sec=round_timeout,
            firmware=firmware,
        )
        run_rounds(flags, prepared.settings.source, prepared=prepared)

    @app.command("deploy")
    @option_group("flags", run_flags)
    def deploy(
        flags: RunFlags,
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
        delay: float = _DELAY,
        round_timeout: float = _ROUND_TIMEOUT,
        cleanup: bool = _CLEANUP,
    ) -> None:
        """main.sh: prepare the documents and upload the binary, then the stress rounds."""
        from ota_deploy.aws.session import default_region
        from ota_deploy.deploy.shellflows import prepare_files, prepare_stress

        reg = default_region(flags.region)
        if not thing_list.is_file():  # checked before the STS call a default bucket needs
            raise InputError("thing list not found", file=str(thing_list), key="THINGLIST")
        files = prepare_files(
            bin_file,
            role_arn,
            stream_id,
            private_key,
            bucket=_bucket_resolver(bucket, flags.local, reg, flags.profile),
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
        run_rounds(flags, prepared.settings.source, prepared=prepared)
