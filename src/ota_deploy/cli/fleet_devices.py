"""How ``fleet run`` connects and runs its devices (not a command module: no ``register``).

``Connection`` says where the devices connect and how (plain MQTT, or mutual TLS with each
thing's certificate from a ``fleet provision`` directory; ``aws_connection`` asks AWS IoT's
DescribeEndpoint for its ATS endpoint). ``run_in_process`` runs them on this process's event
loop; ``run_in_workers`` in a ``fleet.pool.FleetPool`` of worker processes. Both run until
SIGINT/SIGTERM, print one line per finished execution (unless quiet) and return the summary
and the error that ended them, if any (devices out of files for good, a worker that died).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ota_deploy.cli.args import parse_host_port
from ota_deploy.core.errors import InputError, OtaDeployError


@dataclass
class Connection:
    """Where and how the devices connect (picklable, for worker processes)."""

    host: str
    port: int
    tls: Any = None  # fleet.worker.TlsFiles
    connects_per_second: float | None = None


def tls_files(
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


def aws_connection(
    names: list[str],
    endpoint: str | None,
    cert_dir: Path | None,
    ca_file: Path | None,
    profile: str | None,
    region: str | None,
) -> Connection:
    """Mutual TLS to the account's ATS endpoint, one certificate per thing."""
    from ota_deploy.aws.provisioning import Manifest

    tls = tls_files(names, cert_dir, ca_file, "--aws", server_hostname=None)
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
    return Connection(host, port, tls=tls, connects_per_second=50.0)


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


async def run_in_process(
    names: list[str], options: Any, conn: Connection, *, quiet: bool
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


def run_in_workers(
    names: list[str], options: Any, conn: Connection, workers: int, *, quiet: bool
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
