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

The ``--fault-*`` options build one ``local.faults.FaultConfig`` (its docstring says what each
action does on each transport); the served stack shares one seeded ``FaultInjector`` between
the HTTP control plane, S3 and the MQTT gateway. The global rates apply to
``--fault-services`` (default ``iot,iot-jobs-data``), limited to ``--fault-operations`` when
given; ``--fault-per-operation`` (JSON, keys ``"Operation"`` or ``"service:Operation"``)
aims at single operations of any service and overrides the global rates for them.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError, OtaDeployError, excerpt

if TYPE_CHECKING:
    from ota_deploy.local.faults import OperationFaults

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


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _fault_services(text: str) -> frozenset[str]:
    """``--fault-services``: names of ``local.faults.SERVICES``; empty: the control plane."""
    from ota_deploy.local.faults import CONTROL_PLANE, SERVICES

    names = _names(text)
    unknown = sorted(names - SERVICES)
    if unknown:
        raise InputError(
            f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(sorted(SERVICES))}",
            key="--fault-services",
        )
    return names or CONTROL_PLANE


def _per_operation(text: str) -> dict[str, OperationFaults]:
    """``--fault-per-operation``'s JSON, read by ``local.faults.per_operation_from_json``."""
    from ota_deploy.local.faults import per_operation_from_json

    if not text.strip():
        return {}
    try:
        return per_operation_from_json(text)
    except ValueError as err:
        raise InputError(excerpt(str(err)), key="--fault-per-operation") from None


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
    fault_lose_reply_rate: float = typer.Option(
        0.0,
        "--fault-lose-reply-rate",
        help="Share of operations run, then answered by closing the connection (reply lost).",
    ),
    fault_services: str = typer.Option(
        "",
        "--fault-services",
        help="Comma-separated services the --fault-* rates apply to: iot, iot-jobs-data, s3, "
        "mqtt (default: iot,iot-jobs-data).",
    ),
    fault_per_operation: str = typer.Option(
        "",
        "--fault-per-operation",
        help='JSON: {"CreateJob": {"lose_reply_rate": 1.0, "times": 1}, "s3:PutObject": {...}}; '
        "an entry overrides the global rates for that operation.",
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
        lose_reply_rate=_rate(fault_lose_reply_rate, "--fault-lose-reply-rate"),
        seed=fault_seed,
        operations=_names(fault_operations),
        services=_fault_services(fault_services),
        per_operation=_per_operation(fault_per_operation),
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
