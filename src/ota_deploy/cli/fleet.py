"""CLI command group ``fleet``: simulated devices (``run``) and real-AWS virtual devices.

``fleet run``: thing list -> thing names (``core.thinglist``; ARNs or names, ``#`` comments)
-> this host's share (``--shard K/N``: ``fleet.shard.in_shard``, a stable hash of each name, so
N hosts given the same list cover every thing exactly once) -> open files checked
(``wiring.open_files``; exit 2 if the hard limit is too low) -> ``FleetOptions`` from the
behaviour flags -> (``cli.fleet_devices``) ``fleet.runner.Fleet`` on this process's loop
(``--workers 1``) or a ``fleet.pool.FleetPool`` of worker processes, connected to
``--mqtt HOST:PORT`` (the local AWS IoT's gateway; ``--tls``: its mutual-TLS port with each
thing's certificate from ``--cert-dir``) or, with ``--aws``, to the account's ATS endpoint on
8883 with those certificates -> prints one line per finished job execution (unless
``--quiet``) -> on SIGINT/SIGTERM disconnects, prints a
summary and exits 0 (3 when the devices could not connect for want of files, or a worker died).

``fleet provision`` / ``fleet destroy``: ``aws.provisioning`` with boto3 clients from
``aws.session.AwsClients`` (standard credential chain, ``--profile``, ``--region``; the
standard ``AWS_ENDPOINT_URL_IOT`` variable points them at a local AWS IoT).

Bad flags or files exit 2 with the flag or file named; AWS errors exit 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ota_deploy.cli.args import fleet_options_from_flags, parse_host_port
from ota_deploy.core.errors import InputError, OtaDeployError

fleet_app = typer.Typer(
    name="fleet",
    help="Simulated devices that really download OTA images; real-AWS virtual devices.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(fleet_app, name="fleet")


def read_things(path: Path) -> tuple[list[str], list[str]]:
    """Thing names in a thing list (names or ARNs); group ARNs are skipped with a warning."""
    from ota_deploy.aws.session import default_region
    from ota_deploy.core.defaults import LOCAL_ACCOUNT
    from ota_deploy.core.thinglist import read_thing_list

    things = read_thing_list(path, account=LOCAL_ACCOUNT, region=default_region())
    warnings = [w for w in things.warnings if "AWS will reject it" not in w]
    if things.group_arns:
        warnings.append(
            f"{path}: thing groups cannot be simulated (list their things): "
            + ", ".join(things.group_names)
        )
    if not things.thing_arns:
        raise InputError("the thing list names no things", file=str(path))
    return list(things.thing_names), warnings


@fleet_app.command("run")
def run(
    things_file: Path = typer.Option(..., "--things", help="Thing list: names or thing ARNs."),
    mqtt: str | None = typer.Option(None, "--mqtt", help="HOST:PORT of the MQTT gateway."),
    fail_rate: float = typer.Option(0.0, "--fail-rate", help="Share of executions FAILED."),
    reject_rate: float = typer.Option(0.0, "--reject-rate", help="Share REJECTED."),
    hang_rate: float = typer.Option(0.0, "--hang-rate", help="Share that never finish."),
    seed: int = typer.Option(0, "--seed", help="Seed of every behaviour draw."),
    protocol: str = typer.Option("cbor", "--protocol", help="File delivery encoding: cbor|json."),
    block_size: int = typer.Option(4096, "--block-size", help="GetStream block size (bytes)."),
    blocks_per_request: int = typer.Option(1, "--blocks-per-request", help="Blocks per GetStream."),
    request_timeout: float = typer.Option(10.0, "--request-timeout", help="Seconds per request."),
    max_retries: int = typer.Option(5, "--max-retries", help="Retries of a request."),
    slow_link_bps: int | None = typer.Option(None, "--slow-link-bps", help="Link speed (B/s)."),
    disconnect_rate: float = typer.Option(
        0.0, "--disconnect-rate", help="Share that drop the link mid-download and resume."
    ),
    corrupt_rate: float = typer.Option(
        0.0, "--corrupt-rate", help="Share receiving one corrupted block (md5 catches it)."
    ),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="PEM ECDSA P-256 public key verifying signed images."
    ),
    no_https: bool = typer.Option(False, "--no-https", help="Ignore presigned URLs; use MQTT."),
    aws: bool = typer.Option(False, "--aws", help="Connect to real AWS IoT with mutual TLS."),
    tls: bool = typer.Option(
        False, "--tls", help="Mutual TLS to --mqtt (a gateway's TLS port) with --cert-dir."
    ),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="AWS IoT ATS endpoint host (default: DescribeEndpoint)."
    ),
    cert_dir: Path | None = typer.Option(
        None, "--cert-dir", help="The --out directory of 'fleet provision' (certificates)."
    ),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="Server CA bundle (PEM)."),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile (with --aws)."),
    region: str | None = typer.Option(None, "--region", help="AWS region (with --aws)."),
    shard: str = typer.Option(
        "1/1", "--shard", help="K/N: simulate only shard K of N of the list (one per host)."
    ),
    workers: int = typer.Option(
        1, "--workers", help="Worker processes for this host's devices (1: this process)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line per finished execution."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON line."),
) -> None:
    """Run simulated devices for the listed things until Ctrl-C / SIGTERM."""
    from ota_deploy.cli.fleet_devices import (
        Connection,
        aws_connection,
        run_in_process,
        run_in_workers,
        tls_files,
    )
    from ota_deploy.fleet.shard import in_shard, parse_shard
    from ota_deploy.wiring import open_files

    all_names, warnings = read_things(things_file)
    try:
        k, n = parse_shard(shard)
    except ValueError as err:
        raise InputError(str(err), key="--shard") from None
    if workers < 1:
        raise InputError("must be 1 or more", key="--workers")
    names = in_shard(all_names, k, n)
    if not names:
        raise InputError(
            f"shard {k}/{n} of the thing list is empty ({len(all_names)} things in all)",
            key="--shard",
        )
    if protocol not in ("cbor", "json"):
        raise InputError(f"must be cbor or json, got {protocol!r}", key="--protocol")
    options = fleet_options_from_flags(
        fail_rate=fail_rate,
        reject_rate=reject_rate,
        hang_rate=hang_rate,
        seed=seed,
        protocol=protocol,
        prefer_https=not no_https,
        block_size=block_size,
        blocks_per_request=blocks_per_request,
        request_timeout_sec=request_timeout,
        max_retries=max_retries,
        slow_link_bps=slow_link_bps,
        disconnect_rate=disconnect_rate,
        corrupt_rate=corrupt_rate,
        public_key=public_key,
        progress_every_pct=25,
    )
    if public_key is not None:
        from ota_deploy.fleet.verify import PublicKeyError, load_public_key

        try:
            load_public_key(public_key)
        except PublicKeyError as err:
            raise InputError(str(err), key="--public-key") from None
    if aws and tls:
        raise InputError("--aws already means mutual TLS; give one of them", key="--tls")
    for w in warnings:
        typer.secho(f"warning: {w}", err=True, fg=typer.colors.YELLOW)
    if aws:
        conn = aws_connection(names, endpoint, cert_dir, ca_file, profile, region)
    else:
        if mqtt is None:
            raise InputError("required (or use --aws)", key="--mqtt")
        host, port = parse_host_port(mqtt, "--mqtt")
        conn = Connection(host, port)
        if tls:
            conn.tls = tls_files(names, cert_dir, ca_file, "--tls", server_hostname=None)
    open_files.check_fleet(len(names), workers)
    if n > 1:
        typer.echo(f"shard {k}/{n}: {len(names)} of {len(all_names)} things", err=True)
    if workers == 1:
        import asyncio  # here, not at import: keeps `ota-deploy --help` fast

        summary, failure = asyncio.run(run_in_process(names, options, conn, quiet=quiet))
    else:
        summary, failure = run_in_workers(names, options, conn, workers, quiet=quiet)
    if json_out:
        typer.echo(json.dumps(summary))
    else:
        by = ", ".join(f"{k} {v}" for k, v in sorted(summary["by_status"].items())) or "none"
        typer.echo(
            f"fleet stopped: {summary['devices']} devices, {summary['executions']} executions "
            f"finished ({by}), {summary['bytes_received']} bytes received, "
            f"{summary['reconnects']} reconnects"
        )
    if failure is not None:
        raise OtaDeployError(failure)


@fleet_app.command("provision")
def provision_cmd(
    count: int = typer.Option(..., "--count", help="How many things to create."),
    prefix: str = typer.Option("ota-sim", "--prefix", help="Thing names are PREFIX-0000, ..."),
    group: str = typer.Option("ota-sim-fleet", "--group", help="Thing group to put them in."),
    out: Path = typer.Option(..., "--out", help="Directory for certificates and the manifest."),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile."),
    region: str | None = typer.Option(None, "--region", help="AWS region."),
) -> None:
    """Create things, keys and certificates, a least-privilege policy and a thing group."""
    from ota_deploy.aws.provisioning import THING_LIST, provision
    from ota_deploy.aws.session import AwsClients, AwsTarget, default_region
    from ota_deploy.core.limits import rules

    if not rules().thing_name_re.fullmatch(prefix) or len(prefix) > 100:
        raise InputError("letters, digits, ':', '_' and '-' only (at most 100)", key="--prefix")
    if not rules().thing_name_re.fullmatch(group):
        raise InputError("letters, digits, ':', '_' and '-' only", key="--group")
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", file=str(out), key="--out")
    clients = AwsClients(AwsTarget(region=default_region(region), profile=profile))
    manifest = provision(clients, count=count, prefix=prefix, group=group, out_dir=out)
    typer.echo(
        f"provisioned {len(manifest.devices)} things in group {group} with policy "
        f"{manifest.policy}; thing list: {out / THING_LIST}"
    )


@fleet_app.command("destroy")
def destroy_cmd(
    out: Path = typer.Option(..., "--out", help="The directory 'fleet provision' wrote."),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile."),
    region: str | None = typer.Option(None, "--region", help="AWS region."),
) -> None:
    """Delete what 'fleet provision' created (things, certificates, policy, group)."""
    from ota_deploy.aws.provisioning import Manifest, destroy
    from ota_deploy.aws.session import AwsClients, AwsTarget

    manifest = Manifest.load(out)
    clients = AwsClients(AwsTarget(region=region or manifest.region, profile=profile))
    done = destroy(clients, out_dir=out)
    typer.echo(f"destroyed {len(done.devices)} things, policy {done.policy}, group {done.group}")
