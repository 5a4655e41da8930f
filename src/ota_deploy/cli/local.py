"""CLI command group ``local``: ``ota-deploy local serve`` runs the embedded local AWS IoT.

Flow: options -> FaultConfig / LocalAwsIot (ports, the ``--time-scale`` time source from
``wiring.clock``, region, state dir) -> start on
this process's event loop -> print exactly ONE JSON line (``LocalEndpoints.to_json_dict()``:
iot, jobs_data, s3, mqtt, mqtts, ca, region, account), flushed, so a parent process can read it
and point ``AWS_ENDPOINT_URL_IOT`` etc. at it -> wait for SIGINT/SIGTERM -> stop (state saved
when ``--state-dir`` is set) -> exit 0. Bad options exit 2; a port that cannot be bound exits 3.

``mqtts`` is MQTT over mutual TLS (AWS's port 8883 protocol): clients present a certificate
registered and ACTIVE in the local registry (CreateKeysAndCertificate...) and AWS IoT policies
apply; ``ca`` is the PEM file that signs the gateway's certificate (their ``--cafile``).
``mqtt`` is plain TCP, open to anyone without policies: a local convenience.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer

from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError, OtaDeployError

local_app = typer.Typer(
    name="local",
    help="The embedded local AWS IoT (control plane, jobs, MQTT gateway, S3).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(local_app, name="local")


def _rate(value: float, flag: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise InputError(f"must be between 0 and 1, got {value}", key=flag)
    return value


@local_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address every listener binds."),
    iot_port: int = typer.Option(0, "--iot-port", help="Control plane (iot) port; 0 = free."),
    jobs_data_port: int = typer.Option(
        0, "--jobs-data-port", help="Jobs data plane (iot-jobs-data) port; 0 = free."
    ),
    mqtt_port: int = typer.Option(0, "--mqtt-port", help="MQTT gateway port; 0 = free."),
    mqtts_port: int = typer.Option(
        0, "--mqtts-port", help="MQTT over mutual TLS port (AWS's 8883); 0 = free."
    ),
    s3_port: int = typer.Option(0, "--s3-port", help="S3 port; 0 = free."),
    time_scale: float = typer.Option(
        1.0, "--time-scale", help="Virtual minutes pass this many times faster."
    ),
    region: str = typer.Option(DEFAULT_REGION, "--region", help="Region in ARNs and S3."),
    account: str = typer.Option(LOCAL_ACCOUNT, "--account", help="Account id in ARNs."),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="Load state from here at start, save it here while running."
    ),
    fault_throttle_rate: float = typer.Option(
        0.0, "--fault-throttle-rate", help="Share of HTTP requests answered ThrottlingException."
    ),
    fault_error_rate: float = typer.Option(
        0.0, "--fault-error-rate", help="Share answered 500 InternalFailure / 503 Unavailable."
    ),
    fault_latency_ms: float = typer.Option(
        0.0, "--fault-latency-ms", help="Added latency (ms) on a share of requests."
    ),
    fault_latency_rate: float = typer.Option(
        0.0, "--fault-latency-rate", help="Share of requests delayed (default all, if ms set)."
    ),
    fault_drop_rate: float = typer.Option(
        0.0, "--fault-drop-rate", help="Share of requests whose connection is closed unanswered."
    ),
    fault_seed: int | None = typer.Option(None, "--fault-seed", help="Seed for fault draws."),
    fault_operations: str = typer.Option(
        "", "--fault-operations", help="Comma-separated operation names faults apply to."
    ),
) -> None:
    """Run the local AWS IoT until Ctrl-C / SIGTERM; print one JSON line when ready."""
    import asyncio  # here, not at import: keeps `ota-deploy --help` fast

    from ota_deploy.core.limits import ACCOUNT_RE, REGION_RE
    from ota_deploy.local.faults import FaultConfig
    from ota_deploy.wiring.clock import time_source

    if time_scale <= 0:
        raise InputError(f"must be positive, got {time_scale}", key="--time-scale")
    for port, flag in (
        (iot_port, "--iot-port"),
        (jobs_data_port, "--jobs-data-port"),
        (mqtt_port, "--mqtt-port"),
        (mqtts_port, "--mqtts-port"),
        (s3_port, "--s3-port"),
    ):
        if not 0 <= port <= 65535:
            raise InputError(f"not a port number: {port}", key=flag)
    if not ACCOUNT_RE.fullmatch(account):
        raise InputError(f"an AWS account id is 12 digits, got {account!r}", key="--account")
    if not REGION_RE.fullmatch(region):
        raise InputError(f"not an AWS region name: {region!r}", key="--region")
    if fault_latency_ms < 0:
        raise InputError(f"must not be negative, got {fault_latency_ms}", key="--fault-latency-ms")
    faults = FaultConfig(
        throttle_rate=_rate(fault_throttle_rate, "--fault-throttle-rate"),
        error_rate=_rate(fault_error_rate, "--fault-error-rate"),
        latency_ms=fault_latency_ms,
        latency_rate=_rate(fault_latency_rate, "--fault-latency-rate"),
        drop_rate=_rate(fault_drop_rate, "--fault-drop-rate"),
        seed=fault_seed,
        operations=frozenset(op.strip() for op in fault_operations.split(",") if op.strip()),
    )
    if state_dir is not None and state_dir.exists() and not state_dir.is_dir():
        raise InputError("exists and is not a directory", file=str(state_dir), key="--state-dir")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        asyncio.run(
            _serve(
                host=host,
                iot_port=iot_port,
                jobs_data_port=jobs_data_port,
                mqtt_port=mqtt_port,
                mqtts_port=mqtts_port,
                s3_port=s3_port,
                clock=time_source(local=True, time_scale=time_scale),
                region=region,
                account=account,
                state_dir=state_dir,
                faults=faults,
            )
        )
    except OSError as err:
        raise OtaDeployError(f"could not start the local AWS IoT: {err}") from err


async def _serve(**kwargs: object) -> None:
    import asyncio
    import signal

    from ota_deploy.local.server import LocalAwsIot

    local = LocalAwsIot(**kwargs)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    endpoints = await local.start()
    try:
        sys.stdout.write(json.dumps(endpoints.to_json_dict()) + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await local.stop()
