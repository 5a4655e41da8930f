"""``ota-deploy local serve`` as a subprocess, state persistence, and fault injection."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from ota_deploy.core.clock import ScaledClock
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.local.faults import FaultConfig
from ota_deploy.local.server import LocalAwsIotThread

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


_SESSION = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local")


def _client(service: str, url: str, region: str = "us-east-1", attempts: int = 3) -> Any:
    return _SESSION.client(
        service,
        endpoint_url=url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": attempts}),
    )


def _read_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not box:
        proc.kill()
        raise AssertionError("local serve printed nothing")
    return box[0]


def test_local_serve_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*CLI, "local", "serve", "--time-scale", "30", "--region", "eu-west-1",
         "--state-dir", str(state), "--fault-throttle-rate", "1",
         "--fault-operations", "DescribeJob", "--fault-seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = json.loads(_read_line(proc))
        assert set(info) == {"iot", "jobs_data", "s3", "mqtt", "region", "account"}
        assert info["region"] == "eu-west-1"
        assert info["account"] == "123456789012"
        iot = _client("iot", info["iot"], "eu-west-1")
        arn = iot.create_thing(thingName="served")["thingArn"]
        assert arn == "arn:aws:iot:eu-west-1:123456789012:thing/served"
        with pytest.raises(ClientError) as throttled:  # the --fault-* flags reach the server
            _client("iot", info["iot"], "eu-west-1", attempts=0).describe_job(jobId="any")
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
        pending = _client("iot-jobs-data", info["jobs_data"], "eu-west-1")
        assert pending.get_pending_job_executions(thingName="served")["queuedJobs"] == []
        host, port = info["mqtt"].rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == ""  # exactly one line was printed, before
    assert (state / "iot-state.json").exists()


def test_local_serve_rejects_bad_options() -> None:
    proc = subprocess.run(
        [*CLI, "local", "serve", "--fault-throttle-rate", "1.5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--fault-throttle-rate" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--account", "12"], "--account"),
        (["--region", "mars"], "--region"),
        (["--time-scale", "0"], "--time-scale"),
        (["--fault-latency-ms", "-5"], "--fault-latency-ms"),
        (["--iot-port", "70000"], "--iot-port"),
    ],
)
def test_local_serve_option_errors_in_process(
    args: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ota_deploy.cli.app import main

    monkeypatch.setattr(sys, "argv", ["ota-deploy", "local", "serve", *args])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_state_dir_survives_a_restart(tmp_path: Path) -> None:
    with LocalAwsIotThread(state_dir=tmp_path) as ep:
        iot = _client("iot", ep.iot)
        s3 = _client("s3", ep.s3)
        s3.create_bucket(Bucket="keep-bucket")
        s3.put_object(Bucket="keep-bucket", Key="fw.bin", Body=b"firmware")
        arn = iot.create_thing(thingName="keeper")["thingArn"]
        iot.create_stream(
            streamId="keep-stream",
            files=[{"fileId": 0, "s3Location": {"bucket": "keep-bucket", "key": "fw.bin"}}],
            roleArn="arn:aws:iam::123456789012:role/r",
        )
        iot.create_job(jobId="keep-job", targets=[arn], document="{}")
    with LocalAwsIotThread(state_dir=tmp_path) as ep2:
        iot = _client("iot", ep2.iot)
        assert iot.describe_thing(thingName="keeper")["thingArn"] == arn
        assert iot.describe_job(jobId="keep-job")["job"]["status"] == "IN_PROGRESS"
        assert iot.describe_stream(streamId="keep-stream")["streamInfo"]["streamVersion"] == 1
        body = _client("s3", ep2.s3).get_object(Bucket="keep-bucket", Key="fw.bin")["Body"]
        assert body.read() == b"firmware"


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries stay real, only its sleeps between attempts (up to seconds) go."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.0)


def test_corrupt_state_file_is_an_input_error(tmp_path: Path) -> None:
    from ota_deploy.core.errors import InputError

    (tmp_path / "iot-state.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        LocalAwsIotThread(state_dir=tmp_path).start()
    assert str(tmp_path / "iot-state.json") in str(err.value)
    assert (tmp_path / "iot-state.json").read_text() == "{not json"  # left as it was


def test_scaled_clock_resumes_after_restart(tmp_path: Path) -> None:
    # At 3600x a second of wall time is an hour of virtual time: a restarted server whose
    # clock started again from the wall clock would be hours behind what it saved.
    first = LocalAwsIotThread(state_dir=tmp_path, clock=ScaledClock(3600.0))
    with first as ep:
        _client("iot", ep.iot).create_thing(thingName="clocked")
        time.sleep(0.1)  # at least 6 virtual minutes pass, however fast the machine is
    saved = json.loads((tmp_path / "iot-state.json").read_text())["virtual_now"]
    assert first.local is not None and saved > time.time() + 60
    second = LocalAwsIotThread(state_dir=tmp_path, clock=ScaledClock(3600.0))
    with second:
        assert second.local is not None
        assert second.local.clock.now() >= saved


def _faulty(**kwargs: Any) -> LocalAwsIotThread:
    return LocalAwsIotThread(faults=FaultConfig(seed=7, **kwargs))


def test_throttling_is_retried_by_botocore_then_surfaces(no_backoff: None) -> None:
    server = _faulty(throttle_rate=1.0, operations=frozenset({"DescribeJob"}))
    with server as ep:
        iot = _client("iot", ep.iot, attempts=3)
        iot.create_thing(thingName="not-throttled")  # other operations are untouched
        with pytest.raises(ClientError) as err:
            iot.describe_job(jobId="any")
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        # standard mode: max_attempts=3 means 3 retries after the first attempt
        assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 3
        assert server.local is not None
        assert server.local.http.faults.counts["throttle"] == 4


def test_partial_faults_are_absorbed_by_retries(no_backoff: None) -> None:
    server = _faulty(throttle_rate=0.2, error_rate=0.2, latency_ms=5)
    with server as ep:
        iot = _client("iot", ep.iot, attempts=10)
        for i in range(12):
            iot.create_thing(thingName=f"flaky-{i}")
        names = {t["thingName"] for t in iot.list_things(maxResults=100)["things"]}
        assert names == {f"flaky-{i}" for i in range(12)}
        assert server.local is not None
        counts = server.local.http.faults.counts
        assert counts.get("throttle", 0) + counts.get("error500", 0) + counts.get("error503", 0) > 0


def test_dropped_connection_reaches_the_client(make_local_iot: Any) -> None:
    server = make_local_iot(faults=FaultConfig(drop_rate=1.0, seed=3))
    iot = _client("iot", server.endpoints.iot, attempts=0)
    with pytest.raises(ConnectionClosedError):
        iot.describe_job(jobId="any")


def test_fixture_endpoints_and_call_in_loop(
    local_iot_server: LocalAwsIotThread, local_iot: LocalEndpoints
) -> None:
    env = local_iot.env()
    assert env["AWS_ENDPOINT_URL_IOT"] == local_iot.iot
    assert local_iot.iot != local_iot.jobs_data
    service = local_iot_server.service
    created = local_iot_server.call_in_loop(
        lambda: service.call("iot", "CreateThing", {"thingName": "in-loop"})
    )
    assert created["thingName"] == "in-loop"

    async def connected() -> set[str]:
        return set(local_iot_server.gateway.connected_clients())

    assert local_iot_server.call_in_loop(connected) == set()


@pytest.mark.parametrize("port_arg", ["iot_port", "s3_port", "mqtt_port"])
def test_busy_port_raises_and_leaves_nothing_running(port_arg: str) -> None:
    import socket

    busy = socket.create_server(("127.0.0.1", 0))
    try:
        before = {t.name for t in threading.enumerate()}
        server = LocalAwsIotThread(**{port_arg: busy.getsockname()[1]})
        with pytest.raises(OSError):
            server.start()
        assert {t.name for t in threading.enumerate()} <= before
    finally:
        busy.close()
