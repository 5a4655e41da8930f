"""``ota-deploy monitor``: the manual's monitor.py — a job's status, statistics and devices.

Data flow::

    -c dev.ini (jobId, thingList, rounds, region) | --job-id
    --local-endpoints JSON (``local serve``'s line) or AWS_ENDPOINT_URL_* or real AWS
      -> AwsClients -> MonitorSession (resolve the round's job, JobPoller, thing-list watcher)
      -> --once --json: one JSON document (JobSnapshot.to_json_dict) on stdout, exit 0
      -> --once: one rendered view ; otherwise: the live view, refreshed every --interval s
    --mqtt HOST:PORT (local AWS IoT) or --aws-mqtt (AWS IoT over WebSocket, SigV4-signed):
      a watcher adds blocks received / activity / event statusDetails per device.

Exit codes: 0 ok (Ctrl-C ends the live view); 2 bad input; 3 AWS error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ota_deploy.cli.args import parse_host_port
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError

if TYPE_CHECKING:
    from ota_deploy.core.clock import TimeSource

EVENTS_HINT = (
    "job events on AWS need the event configuration JOB and JOB_EXECUTION enabled "
    "(UpdateEventConfigurations; `--enable-events` does that; AWS bills the messages)"
)


def parse_local_endpoints(value: str) -> dict[str, Any]:
    """``local serve``'s JSON line, given inline or as a file path."""
    text = value
    source = "--local-endpoints"
    if not value.lstrip().startswith("{"):
        path = Path(value)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8").strip().splitlines()[-1]
        except (OSError, IndexError) as err:
            raise InputError(f"cannot read local endpoints: {err}", file=source) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", file=source, key="--local-endpoints") from None
    if not isinstance(data, dict) or not all(k in data for k in ("iot", "jobs_data", "s3")):
        raise InputError(
            'expected {"iot": URL, "jobs_data": URL, "s3": URL, "mqtt": "host:port", ...}',
            file=source,
            key="--local-endpoints",
        )
    return data


def _thing_names(path: Path, region: str) -> list[str]:
    from ota_deploy.core.thinglist import read_thing_list

    return list(read_thing_list(path, account=LOCAL_ACCOUNT, region=region).thing_names)


def monitor_command(
    config: Path = typer.Option(Path("dev.ini"), "-c", "--config", help="The run's dev.ini."),
    job_id: str | None = typer.Option(
        None, "--job-id", help="Job to watch (default: dev.ini jobId, or its latest round)."
    ),
    once: bool = typer.Option(False, "--once", help="Poll once, print, exit."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (with --once)."),
    interval: float = typer.Option(2.0, "--interval", min=0.1, help="Seconds between polls."),
    local_endpoints: str | None = typer.Option(
        None, "--local-endpoints", help="`ota-deploy local serve`'s JSON line (or a file with it)."
    ),
    mqtt: str | None = typer.Option(
        None, "--mqtt", help="HOST:PORT of a local AWS IoT's MQTT: watch downloads per device."
    ),
    details: int = typer.Option(
        10, "--details", min=0, help="DescribeJobExecution calls per poll for statusDetails."
    ),
    stall_after: float = typer.Option(
        30.0, "--stall-after", min=1, help="Seconds without activity before a device is stalled."
    ),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile."),
    region: str | None = typer.Option(None, "--region", help="AWS region (overrides dev.ini)."),
    aws_mqtt: bool = typer.Option(
        False,
        "--aws-mqtt",
        help="Also watch AWS IoT over MQTT/WebSocket signed with your credentials (SigV4).",
    ),
    iot_endpoint: str | None = typer.Option(
        None,
        "--iot-endpoint",
        help="HOST[:PORT] of the MQTT/WebSocket endpoint (default: DescribeEndpoint iot:Data-ATS).",
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", help="CA bundle to trust for --aws-mqtt (default: system store)."
    ),
    enable_events: bool = typer.Option(
        False, "--enable-events", help="Enable JOB and JOB_EXECUTION event messages first."
    ),
) -> None:
    """Watch a job: status, counts by execution status, each device (the manual's monitor.py)."""
    if once and (aws_mqtt or mqtt):
        raise InputError("MQTT watching needs time: use it without --once", key="--once")
    if aws_mqtt and mqtt:
        raise InputError("choose one of --mqtt (local) and --aws-mqtt (AWS)", key="--aws-mqtt")
    if ca_file is not None and not ca_file.is_file():
        raise InputError("CA file not found", file=str(ca_file), key="--ca-file")
    if as_json and not once:
        raise InputError("--json prints one document: use it with --once", key="--json")

    from ota_deploy.aws.retry import to_service_error
    from ota_deploy.aws.session import AwsClients, AwsTarget, local_target
    from ota_deploy.core.clock import SystemClock
    from ota_deploy.monitor.session import MonitorSession, ThingListWatcher, resolve_job

    settings = None
    if config.exists() or job_id is None:
        from ota_deploy.config.loader import load_settings

        settings = load_settings(config).settings
    endpoints = parse_local_endpoints(local_endpoints) if local_endpoints else None
    the_region = (
        region
        or (endpoints or {}).get("region")
        or (settings.region if settings else DEFAULT_REGION)
    )
    if endpoints is not None:
        target = local_target(
            {
                "iot": endpoints["iot"],
                "iot-jobs-data": endpoints["jobs_data"],
                "s3": endpoints["s3"],
            },
            str(the_region),
        )
    else:
        target = AwsTarget(region=str(the_region), profile=profile)
    mqtt_addr = parse_host_port(mqtt, "--mqtt") if mqtt else None
    if mqtt_addr is None and endpoints is not None and endpoints.get("mqtt") and not once:
        mqtt_addr = parse_host_port(str(endpoints["mqtt"]), "--local-endpoints mqtt")

    clients = AwsClients(target)
    iot = clients.iot
    operation = "DescribeJob"
    try:
        if enable_events:
            operation = "UpdateEventConfigurations"
            iot.update_event_configurations(
                eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}}
            )
            operation = "DescribeJob"
        follow: str | None = None
        if job_id is None:
            assert settings is not None
            resolved = resolve_job(iot, settings.job_id)
            job_id = resolved.job_id
            follow = None if resolved.exact else settings.job_id
        things = None
        if settings is not None:
            things = ThingListWatcher(
                settings.thing_list, lambda p: _thing_names(p, settings.region)
            )
        clock = SystemClock()  # the one time source of the session, the watcher and the view
        session = MonitorSession(
            iot,
            clock=clock,
            job_id=job_id,
            follow_rounds_of=follow,
            rounds=settings.rounds if settings is not None and follow else None,
            things=things,
            details_budget=details,
            watch_in_progress=not once,
        )
        if once:
            snap = session.tick()
            if as_json:
                typer.echo(json.dumps(snap.to_json_dict(), indent=2, sort_keys=False))
            else:
                from rich.console import Console

                from ota_deploy.monitor.live import render

                Console().print(render(snap, stall_after_sec=stall_after))
            return
        watcher: Any = None
        if aws_mqtt:
            operation = "DescribeEndpoint"
            watcher = _aws_watcher(clients, iot, iot_endpoint, ca_file, clock)
        elif mqtt_addr is not None:
            from ota_deploy.monitor.events import MqttWatcher

            watcher = MqttWatcher(mqtt_addr[0], mqtt_addr[1], clock=clock)
        if watcher is not None:
            try:
                watcher.start()
            except ConnectionError as err:
                from ota_deploy.core.errors import AwsServiceError

                raise AwsServiceError(str(err), code="MqttConnect") from None
            if aws_mqtt:
                typer.echo(f"watching MQTT over WebSocket; {EVENTS_HINT}", err=True)
        operation = "DescribeJob"
        _run_live(
            session, clock, interval=interval, stall_after=stall_after, watcher=watcher
        )
    except InputError:
        raise
    except Exception as err:
        if type(err).__module__.startswith(("botocore", "boto3", "urllib3")):
            raise to_service_error(err, operation) from None
        raise


def _aws_watcher(
    clients: Any, iot: Any, endpoint: str | None, ca_file: Path | None, clock: TimeSource
) -> Any:
    """An AwsMqttWatcher with the session's credentials and the account's data endpoint."""
    from ota_deploy.core.errors import AwsServiceError
    from ota_deploy.monitor.aws_mqtt import AwsMqttWatcher, data_endpoint

    creds = clients.session.get_credentials()
    if creds is None:
        raise AwsServiceError(
            "--aws-mqtt: no usable AWS credentials found (standard chain or --profile)",
            code="NoCredentials",
        )
    frozen = creds.get_frozen_credentials()
    host, port = (
        parse_host_port(endpoint, "--iot-endpoint")
        if endpoint and ":" in endpoint
        else (endpoint or data_endpoint(iot), 443)
    )
    return AwsMqttWatcher(
        host,
        region=clients.target.region,
        access_key=frozen.access_key,
        secret_key=frozen.secret_key,
        session_token=frozen.token,
        port=port,
        ca_filepath=str(ca_file) if ca_file else None,
        clock=clock,
    )


def _run_live(
    session: Any, clock: TimeSource, *, interval: float, stall_after: float, watcher: Any
) -> None:
    from ota_deploy.monitor.live import LiveView

    try:
        with LiveView(stall_after_sec=stall_after, enricher=watcher, get_time=clock.now) as view:
            while True:
                view.update(session.tick())
                clock.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        if watcher is not None:
            watcher.stop()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("monitor")(monitor_command)
