"""CLI command group ``fleet``: simulated devices (``run``) and real-AWS virtual devices.

``fleet run``: thing list -> thing names (``core.thinglist``; ARNs or names, ``#`` comments)
-> this host's share (``--shard K/N``: ``fleet.shard.in_shard``, a stable hash of each name, so
N hosts given the same list cover every thing exactly once) -> open files checked
(``wiring.open_files``; exit 2 if the hard limit is too low) -> ``FleetOptions`` from the
behaviour flags -> ``fleet.runner.Fleet`` on this process's loop (``--workers 1``) or a
``fleet.pool.FleetPool`` of worker processes, connected to ``--mqtt HOST:PORT`` (the local AWS
IoT's gateway; ``--tls``: its mutual-TLS port with each thing's certificate from ``--cert-dir``)
or, with ``--aws``, to the account's ATS endpoint on 8883 with those certificates -> prints one
line per finished job execution (unless ``--quiet``) -> on SIGINT/SIGTERM disconnects, prints a
summary and exits 0 (3 when the devices could not connect for want of files, or a worker died).

``fleet provision`` / ``fleet destroy``: ``aws.provisioning`` with boto3 clients from
``aws.session.AwsClients`` (standard credential chain, ``--profile``, ``--region``; the
standard ``AWS_ENDPOINT_URL_IOT`` variable points them at a local AWS IoT).

Bad flags or files exit 2 with the flag or file named; AWS errors exit 3.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

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
        conn = _aws_connection(names, endpoint, cert_dir, ca_file, profile, region)
    else:
        if mqtt is None:
            raise InputError("required (or use --aws)", key="--mqtt")
        host, port = parse_host_port(mqtt, "--mqtt")
        conn = _Connection(host, port)
        if tls:
            conn.tls = _tls_files(names, cert_dir, ca_file, "--tls", server_hostname=None)
    open_files.check_fleet(len(names), workers)
    if n > 1:
        typer.echo(f"shard {k}/{n}: {len(names)} of {len(all_names)} things", err=True)
    if workers == 1:
        import asyncio  # here, not at import: keeps `ota-deploy --help` fast

        summary, failure = asyncio.run(_run_fleet(names, options, conn, quiet=quiet))
    else:
        summary, failure = _run_pool(names, options, conn, workers, quiet=quiet)
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


@dataclass
class _Connection:
    """Where and how the devices connect (picklable, for worker processes)."""

    host: str
    port: int
    tls: Any = None  # fleet.worker.TlsFiles
    connects_per_second: float | None = None


def _tls_files(
    names: list[str],
    cert_dir: Path | None,
    ca_file: Path | None,
    flag: str,
    *,
    server_hostname: str | None,
) -> Any:
    """Each thing's certificate and key from a 'fleet provision --out' directory."""
    from ota_deploy.aws.provisioning import Manifest
    from ota_deploy.fleet.worker import TlsFiles

    if cert_dir is None:
        raise InputError(
            f"required with {flag} (the 'fleet provision --out' directory)", key="--cert-dir"
        )
    manifest = Manifest.load(cert_dir)
    files = {
        d.name: (cert_dir / d.cert_file, cert_dir / d.key_file)
        for d in manifest.devices
        if d.cert_file and d.key_file
    }
    creds: dict[str, tuple[Path, Path]] = {}
    for name in names:
        if name not in files:
            raise InputError(
                f"no certificate for thing {name!r}", file=str(cert_dir), key="--cert-dir"
            )
        creds[name] = files[name]
        for f in files[name]:
            if not f.is_file():
                raise InputError("certificate file missing", file=str(f), key="--cert-dir")
    if ca_file is not None and not ca_file.is_file():
        raise InputError("not a file", file=str(ca_file), key="--ca-file")
    return TlsFiles(ca_file=ca_file, credentials=creds, server_hostname=server_hostname)


def _aws_connection(
    names: list[str],
    endpoint: str | None,
    cert_dir: Path | None,
    ca_file: Path | None,
    profile: str | None,
    region: str | None,
) -> _Connection:
    """Mutual TLS to the account's ATS endpoint, one certificate per thing."""
    from ota_deploy.aws.provisioning import Manifest

    tls = _tls_files(names, cert_dir, ca_file, "--aws", server_hostname=None)
    if endpoint is None:
        from ota_deploy.aws.provisioning import describe_ats_endpoint
        from ota_deploy.aws.session import AwsClients, AwsTarget, default_region

        assert cert_dir is not None
        manifest = Manifest.load(cert_dir)
        target = AwsTarget(region=default_region(region or manifest.region), profile=profile)
        endpoint = describe_ats_endpoint(AwsClients(target))
    host, port = parse_host_port(endpoint, "--endpoint") if ":" in endpoint else (endpoint, 8883)
    tls = replace(tls, server_hostname=host)
    # stay well under AWS IoT's account connect rate
    return _Connection(host, port, tls=tls, connects_per_second=50.0)


def _show(quiet: bool) -> Any:
    """One line per finished execution (unless ``quiet``)."""

    def show(r: Any) -> None:
        if quiet:
            return
        why = f" ({r.reason})" if r.reason else ""
        print(
            f"{r.thing} {r.job_id} {r.status}{why} {r.bytes_received} B "
            f"{r.duration:.2f} s via {r.transport or '-'}",
            flush=True,
        )

    return show


async def _run_fleet(
    names: list[str], options: Any, conn: _Connection, *, quiet: bool
) -> tuple[dict[str, Any], str | None]:
    """The devices on this process's loop until SIGINT/SIGTERM (or a fatal connect failure)."""
    import asyncio
    import signal

    from ota_deploy.fleet.runner import Fleet
    from ota_deploy.fleet.worker import ssl_for_files

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    failure: list[str] = []

    def fatal(message: str) -> None:
        failure.append(message)
        stop.set()

    fleet = Fleet(
        names,
        mqtt_host=conn.host,
        mqtt_port=conn.port,
        options=options,
        ssl_for=ssl_for_files(conn.tls) if conn.tls is not None else None,
        server_hostname=conn.tls.server_hostname if conn.tls is not None else None,
        connects_per_second=conn.connects_per_second,
        on_result=_show(quiet),
        on_fatal=fatal,
    )
    try:
        await fleet.start()
        stats = fleet.stats()
        print(
            f"fleet ready: {stats.connected}/{len(names)} devices connected to "
            f"{fleet.mqtt_host}:{fleet.mqtt_port}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    finally:
        await fleet.stop()
    return fleet.stats().summary(), (failure[0] if failure else None)


def _run_pool(
    names: list[str], options: Any, conn: _Connection, workers: int, *, quiet: bool
) -> tuple[dict[str, Any], str | None]:
    """The devices in ``workers`` processes until SIGINT/SIGTERM or a worker fails."""
    import signal
    import threading

    from ota_deploy.fleet.pool import FleetFailure, FleetPool

    stop = threading.Event()
    failure: list[str] = []

    def failed(message: str) -> None:
        failure.append(message)
        stop.set()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    pool = FleetPool(
        names,
        workers=workers,
        mqtt_host=conn.host,
        mqtt_port=conn.port,
        options=options,
        tls=conn.tls,
        connects_per_second=conn.connects_per_second,
        on_result=_show(quiet),
        on_failure=failed,
    )
    try:
        try:
            pool.start()
        except FleetFailure as err:
            raise OtaDeployError(f"the fleet could not start: {err}") from None
        print(
            f"fleet ready: {pool.stats().connected}/{len(names)} devices connected to "
            f"{conn.host}:{conn.port} from {pool.workers} worker processes",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return pool.stats().summary(), (failure[0] if failure else None)


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
    from ota_deploy.core.limits import THING_NAME_RE

    if not THING_NAME_RE.fullmatch(prefix) or len(prefix) > 100:
        raise InputError("letters, digits, ':', '_' and '-' only (at most 100)", key="--prefix")
    if not THING_NAME_RE.fullmatch(group):
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
